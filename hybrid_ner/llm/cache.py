"""A persistent prompt cache of LLM answers (SQLite, WAL), each committed when it arrives;
processes claim a key before sending so none pays twice (a claim lives as long as its pid)."""

import gzip
import hashlib
import json
import os
import random
import sqlite3
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from spacy_llm.registry import registry

from ..errors import HybridNerError

#: SQLite errors about the storage, not the content (the cache stays valid).
_STORAGE_ERRORS = ("full", "disk i/o", "readonly", "read-only", "locked", "busy", "quota")
#: :meth:`PromptCache.claim` results.
CLAIM_CLAIMED, CLAIM_ANSWERED, CLAIM_BUSY = "claimed", "answered", "busy"
#: The prompt cache file of ``hybrid_ner.PromptCache.v1`` (relative to the working directory).
DEFAULT_CACHE_PATH = ".cache/llm/prompts.sqlite"
_OPEN_TIMEOUT = 60.0
_ANSWER = "response, prompt_tokens, completion_tokens"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
    "request TEXT NOT NULL, response TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, "
    "completion_tokens INTEGER NOT NULL, created REAL NOT NULL)",
    # A key some process is sending now; owner is unique per PromptCache object.
    "CREATE TABLE IF NOT EXISTS sending (key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
    "pid INTEGER NOT NULL)",
)
CHUNK = 500  # keys per "IN (...)" (old SQLite builds allow 999 variables)
#: The first line of a recording names its format and version.
FORMAT = "hybrid-ner-recorded-answers"
VERSION = 1


class CacheWriteError(HybridNerError):
    """The prompt cache could not store an answer (disk full, read-only); what it holds is valid."""


def request_key(model: str, messages: List[Mapping[str, str]], params: Mapping[str, Any]) -> str:
    """The cache key: sha256 of the canonical JSON of model, messages and params."""
    canonical = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """An answer and its token counts (estimated if the backend gave none)."""

    response: str
    prompt_tokens: int
    completion_tokens: int


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write on an autocommit connection, the write lock taken at once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite rolls back by itself after some errors
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _alive(pid: int) -> bool:
    try:
        with suppress(PermissionError):  # another user's process
            os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PromptCache:
    """SQLite store of answers at ``path`` (one host), adding ``recorded`` answers on open."""

    def __init__(self, path: Union[str, Path], recorded: Optional[Union[str, Path]] = None) -> None:
        self.path = Path(path)
        self.recorded = Path(recorded) if recorded else None
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = self._open()
                if self.recorded is not None:
                    recording = read_recorded(self.recorded)
                    with _transaction(conn):
                        conn.executemany(
                            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [_row_values(r) for r in recording.rows],
                        )
                    if recording.blank:
                        warnings.warn(
                            f"{self.recorded}: {recording.blank} blank recorded answer(s) left "
                            "out (a blank answer is a failed request: those prompts are sent)"
                        )
            except sqlite3.Error as err:
                raise HybridNerError(f"{self.path}: cannot open the prompt cache ({err})") from None
            self._conn = conn
        return self._conn

    def _open(self) -> sqlite3.Connection:
        """Connect, switch to WAL and create the tables, retrying with jitter: processes
        opening a new cache together get "database is locked" at once (no busy wait)."""
        deadline, delay = time.monotonic() + _OPEN_TIMEOUT, 0.005
        while True:
            conn = sqlite3.connect(
                str(self.path), timeout=_OPEN_TIMEOUT, check_same_thread=False, isolation_level=None
            )
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # survives a killed process
                with _transaction(conn):
                    for statement in SCHEMA:
                        conn.execute(statement)
                return conn
            except sqlite3.Error as err:
                conn.close()
                locked = "locked" in str(err) or "busy" in str(err)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    def _locked(self, work: Callable[[sqlite3.Connection], Any], write: bool = False) -> Any:
        """Run ``work`` under the lock (a write: in one transaction); errors in one line."""
        with self._lock:
            try:
                conn = self._connection()
                with _transaction(conn) if write else nullcontext():
                    return work(conn)
            except sqlite3.DatabaseError as err:
                # Only a file that is no database is unreadable; a full disk or a lock is not.
                if any(word in str(err).lower() for word in _STORAGE_ERRORS):
                    raise CacheWriteError(
                        f"{self.path}: the prompt cache cannot store more answers ({err}); the "
                        "answers it holds are valid, keep it: free disk space (or make it "
                        "writable) and re-run the same command to resume"
                    ) from None
                raise HybridNerError(
                    f"{self.path}: the prompt cache is unreadable ({err}); move it away to start "
                    "a new one"
                ) from None

    def _run(self, sql: str, args: Iterable[Any] = (), write: bool = False) -> List[tuple]:
        return self._locked(lambda conn: conn.execute(sql, tuple(args)).fetchall(), write)

    def _select_in(self, select: str, keys: Iterable[str]) -> List[tuple]:
        keys = list(keys)
        rows: List[tuple] = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            rows += self._run(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk)
        return rows

    def get(self, key: str) -> Optional[CachedAnswer]:
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> Dict[str, CachedAnswer]:
        rows = self._select_in(f"SELECT key, {_ANSWER} FROM answers", keys)
        return {row[0]: CachedAnswer(*row[1:]) for row in rows}

    def present(self, keys: Iterable[str]) -> Set[str]:
        return {row[0] for row in self._select_in("SELECT key FROM answers", keys)}

    def put(self, key: str, model: str, request: Dict[str, Any], answer: CachedAnswer) -> None:
        """Store an answer and drop the key's claim; committed before this returns."""
        values = _row_values({"key": key, "model": model, "request": request, **vars(answer)})

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            conn.execute("DELETE FROM sending WHERE key = ?", (key,))

        self._locked(work, write=True)

    def claim(self, key: str) -> Tuple[str, Optional[CachedAnswer]]:
        """Claim a key atomically: (ANSWERED, answer); (CLAIMED, None): send, then put or
        release; (BUSY, None): another live owner holds it."""

        def work(conn: sqlite3.Connection) -> Tuple[str, Optional[CachedAnswer]]:
            answer = conn.execute(f"SELECT {_ANSWER} FROM answers WHERE key = ?", (key,)).fetchone()
            if answer:
                return CLAIM_ANSWERED, CachedAnswer(*answer)
            holder = conn.execute("SELECT owner, pid FROM sending WHERE key = ?", (key,)).fetchone()
            if holder and holder[0] != self.owner and _alive(holder[1]):
                return CLAIM_BUSY, None
            conn.execute(
                "INSERT OR REPLACE INTO sending VALUES (?, ?, ?)", (key, self.owner, os.getpid())
            )
            return CLAIM_CLAIMED, None

        return self._locked(work, write=True)  # no other writer between the look and the take

    def release(self, key: Optional[str] = None) -> None:
        """Drop this object's claim on a key (its request failed), or all its claims."""
        if key is None and self._conn is None:
            return  # never opened: holds none
        where, args = ("", ()) if key is None else (" AND key = ?", (key,))
        self._run(f"DELETE FROM sending WHERE owner = ?{where}", (self.owner, *args), write=True)

    def claims(self) -> int:
        """How many keys are claimed now (by any process)."""
        return self._run("SELECT COUNT(*) FROM sending")[0][0]

    def rows(self, keys: Iterable[str]) -> List[Dict[str, Any]]:
        """The stored entries of ``keys`` as a recording holds them, in order."""
        keys = list(keys)
        names = ("key", "model", "request", "response", "prompt_tokens", "completion_tokens")
        found = {r[0]: r for r in self._select_in(f"SELECT {', '.join(names)} FROM answers", keys)}
        missing = next((key for key in keys if key not in found), None)
        if missing is not None:
            raise HybridNerError(
                f"{self.path}: no cached answer for prompt {missing[:12]}…; run `hybrid-ner "
                "propose` first"
            )
        rows = [dict(zip(names, found[key])) for key in keys]
        return [{**row, "request": json.loads(row["request"])} for row in rows]

    def __len__(self) -> int:
        return self._run("SELECT COUNT(*) FROM answers")[0][0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _row_values(row: Mapping[str, Any]) -> tuple:
    request = json.dumps(row["request"], ensure_ascii=False)
    tokens = (int(row["prompt_tokens"]), int(row["completion_tokens"]))
    return (row["key"], row["model"], request, row["response"], *tokens, time.time())


@registry.llm_misc("hybrid_ner.PromptCache.v1")
def create_prompt_cache(
    path: Optional[str] = DEFAULT_CACHE_PATH, recorded: Optional[str] = None
) -> Optional[PromptCache]:
    """A prompt cache in the SQLite file ``path`` (None: none), replaying ``recorded`` answers."""
    if not path:
        if recorded:
            raise HybridNerError(
                "Recorded answers are replayed through the prompt cache: give the cache a path"
            )
        return None
    return PromptCache(path, recorded=recorded or None)


@dataclass
class Recording:
    """Recorded answers: gzip JSON lines, a header, then one answer per line."""

    provenance: Dict[str, Any] = field(default_factory=dict)
    rows: List[Dict[str, Any]] = field(default_factory=list)
    blank: int = 0


def read_recorded(path: Union[str, Path]) -> Recording:
    """Read and check a ``.jsonl.gz`` recording. RAISES (HybridNerError): Naming the line."""
    if not Path(path).is_file():
        raise HybridNerError(f"{path}: recorded answers not found")
    recording = Recording()
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = [(i, line) for i, line in enumerate(handle, 1) if line.strip()]
    except (OSError, EOFError) as err:
        raise HybridNerError(f"{path}: cannot read recorded answers ({err})") from None
    for n, (i, line) in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise HybridNerError(f"{path}:{i}: not JSON ({err.msg})") from None
        if not isinstance(row, dict):
            raise HybridNerError(f"{path}:{i}: expected a JSON object")
        if n == 0:
            if row.get("format") != FORMAT or row.get("version") != VERSION:
                raise HybridNerError(f"{path}:{i}: not a {FORMAT} file of version {VERSION}")
            recording.provenance = dict(row.get("provenance") or {})
            continue
        types = {"key": str, "model": str, "response": str, "request": dict}
        types.update(prompt_tokens=int, completion_tokens=int)
        if not all(isinstance(row.get(name), kind) for name, kind in types.items()) or (
            min(row["prompt_tokens"], row["completion_tokens"]) < 0
        ):
            raise HybridNerError(
                f"{path}:{i}: a recorded answer needs key, model, request, response and "
                "token counts"
            )
        if row["response"].strip():
            recording.rows.append(row)
        else:  # a failed request, never "no entities": it would never be asked again
            recording.blank += 1
    if not recording.provenance:
        raise HybridNerError(f"{path}: empty recording (no header line)")
    return recording


def write_recorded(
    path: Union[str, Path], rows: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any]
) -> int:
    """Write a recording atomically, sorted by key (same answers, same file); RETURNS its size."""
    path = Path(path)
    rows = sorted((r for r in rows if str(r.get("response") or "").strip()), key=lambda r: r["key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    header = {"format": FORMAT, "version": VERSION, "provenance": dict(provenance)}
    # mtime=0: the gzip header carries no timestamp, the file is reproducible.
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        for row in [header, *rows]:
            line = json.dumps(dict(row), ensure_ascii=False, sort_keys=True) + "\n"
            handle.write(line.encode("utf-8"))
    tmp.replace(path)
    return len(rows)
