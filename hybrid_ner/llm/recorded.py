"""Recorded LLM answers: a portable, versioned file of prompt-cache entries.

A project can ship the answers an LLM gave (e.g. the embedded LLM on the
bundled WikiGold corpus), so a first run replays them instead of spending an
hour of CPU: ``propose`` finds them by the same key as its prompt cache
(:func:`hybrid_ner.llm.cache.request_key`: model identity, exact messages,
generation parameters), counts them as cache hits, sends nothing and never
loads the model. Any change of prompt, examples, model or settings changes
the key, so a recording can never answer a prompt it was not made for.

Format: gzip-compressed JSON lines. The first line is the header
``{"format": "hybrid-ner-recorded-answers", "version": 1, "provenance": {...}}``
(model, weights hash, settings, date, licence of the source text); then one
object per answer: ``key``, ``model``, ``request`` (messages and parameters),
``response``, ``prompt_tokens``, ``completion_tokens``.
"""

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Union

from ..errors import HybridNerError
from .cache import CachedAnswer

FORMAT = "hybrid-ner-recorded-answers"
VERSION = 1


class RecordedAnswers:
    """Read-only answers from a recording, loaded on first use.

    path (Union[str, Path]): The ``.jsonl.gz`` file.
    """

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._answers: Optional[Dict[str, CachedAnswer]] = None
        self.provenance: Dict[str, Any] = {}
        #: Blank answers in the file, left out by :meth:`rows`.
        self.blank = 0

    def rows(self) -> List[Dict[str, Any]]:
        """Every recorded answer as stored (key, model, request, response, tokens),
        checked: an error names the file and line."""
        rows: List[Dict[str, Any]] = []
        self.blank = 0
        for i, row in enumerate(_read_lines(self.path), 1):
            if i == 1:
                if row.get("format") != FORMAT or row.get("version") != VERSION:
                    raise HybridNerError(f"{self.path}:1: not a {FORMAT} file of version {VERSION}")
                self.provenance = dict(row.get("provenance") or {})
                continue
            ok = (
                isinstance(row.get("key"), str)
                and isinstance(row.get("model"), str)
                and isinstance(row.get("response"), str)
                and isinstance(row.get("request"), dict)
                and all(
                    isinstance(row.get(n), int) and row[n] >= 0
                    for n in ("prompt_tokens", "completion_tokens")
                )
            )
            if not ok:
                raise HybridNerError(
                    f"{self.path}:{i}: a recorded answer needs key, model, request, response and "
                    "token counts"
                )
            if not row["response"].strip():
                # A blank answer is a failed request, never "no entities": replayed as a
                # cache hit it would never be asked again. Left out (counted).
                self.blank += 1
                continue
            rows.append(row)
        if not self.provenance:
            raise HybridNerError(f"{self.path}: empty recording (no header line)")
        return rows

    def _load(self) -> Dict[str, CachedAnswer]:
        if self._answers is None:
            self._answers = {
                row["key"]: CachedAnswer(
                    row["response"], row["prompt_tokens"], row["completion_tokens"]
                )
                for row in self.rows()
            }
        return self._answers

    def get(self, key: str) -> Optional[CachedAnswer]:
        """The recorded answer for a cache key, or None."""
        return self._load().get(key)

    def __len__(self) -> int:
        return len(self._load())


def _read_lines(path: Path) -> Iterator[Dict[str, Any]]:
    if not path.is_file():
        raise HybridNerError(f"{path}: recorded answers not found")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for i, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise HybridNerError(f"{path}:{i}: not JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise HybridNerError(f"{path}:{i}: expected a JSON object")
                yield row
    except (OSError, EOFError) as err:
        raise HybridNerError(f"{path}: cannot read recorded answers ({err})") from None


def cache_rows(cache_path: Union[str, Path], keys: Iterable[str]) -> List[Dict[str, Any]]:
    """The prompt-cache entries for ``keys`` (in that order); an error names the
    first key that is not in the cache."""
    path = Path(cache_path)
    if not path.is_file():
        raise HybridNerError(f"{path}: prompt cache not found")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = []
        for key in keys:
            found = conn.execute(
                "SELECT model, request, response, prompt_tokens, completion_tokens FROM answers "
                "WHERE key = ?",
                (key,),
            ).fetchone()
            if found is None:
                raise HybridNerError(
                    f"{path}: no cached answer for prompt {key[:12]}…; run `hybrid-ner propose` "
                    "first"
                )
            model, request, response, prompt_tokens, completion_tokens = found
            rows.append(
                {
                    "key": key,
                    "model": model,
                    "request": json.loads(request),
                    "response": response,
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                }
            )
        return rows
    except sqlite3.Error as err:
        raise HybridNerError(f"{path}: cannot read the prompt cache ({err})") from None
    finally:
        conn.close()


def write_recorded(
    path: Union[str, Path], rows: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any]
) -> int:
    """Write a recording (atomically); returns the number of answers.

    Rows are written sorted by key, so the same answers give the same file.
    """
    path = Path(path)
    # A blank answer is a failed request: never recorded (it would be replayed as one).
    rows = sorted(
        (row for row in rows if str(row.get("response") or "").strip()), key=lambda row: row["key"]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # mtime=0: the gzip header carries no timestamp, the file is reproducible.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        header = {"format": FORMAT, "version": VERSION, "provenance": dict(provenance)}
        handle.write(
            (json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        )
        for row in rows:
            handle.write(
                (json.dumps(dict(row), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
            )
    tmp.replace(path)
    return len(rows)
