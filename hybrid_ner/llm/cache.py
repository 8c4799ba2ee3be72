"""A persistent prompt-level cache of LLM answers (SQLite).

Keyed by a hash of the model identity, the exact messages and the
generation parameters, so a different model, prompt, example set or
temperature never hits another's answer (unlike spacy-llm's BatchCache).
Every answer is committed as soon as it arrives, in WAL mode: after a crash
or ``kill -9`` only the requests in flight are lost, and a re-run resumes.
"""
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from spacy_llm.registry import registry

from ..errors import HybridNerError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(model: str, messages: List[Mapping[str, str]], params: Mapping[str, Any]) -> str:
    """The cache key: sha256 of the canonical JSON of model, messages and params."""
    canonical = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params)},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """An answer as stored."""

    response: str
    prompt_tokens: int
    completion_tokens: int


class PromptCache:
    """SQLite store of answers, safe for threads and for several processes.

    path (Union[str, Path]): The database file; parent folders are created.
    """

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL survives a killed process (not a power cut mid-commit).
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(_SCHEMA)
            except sqlite3.Error as err:
                raise HybridNerError(f"{self.path}: cannot open the prompt cache ({err})") from None
            self._conn = conn
        return self._conn

    def get(self, key: str) -> Optional[CachedAnswer]:
        """The stored answer for a key, or None."""
        with self._lock:
            row = self._connection().execute(
                "SELECT response, prompt_tokens, completion_tokens FROM answers WHERE key = ?", (key,)
            ).fetchone()
        return CachedAnswer(*row) if row else None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(
        self, key: str, model: str, request: Dict[str, Any], answer: CachedAnswer
    ) -> None:
        """Store an answer; committed before this returns."""
        with self._lock:
            self._connection().execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, model, json.dumps(request, ensure_ascii=False), answer.response,
                 answer.prompt_tokens, answer.completion_tokens, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@registry.llm_misc("hybrid_ner.PromptCache.v1")
def create_prompt_cache(path: Optional[str] = ".cache/llm/prompts.sqlite") -> Optional[PromptCache]:
    """A persistent prompt-level cache of LLM answers.

    path (Optional[str]): SQLite file; None disables caching (answers are
        then lost at exit: not advisable with paid APIs).
    RETURNS (Optional[PromptCache]): The cache, or None.
    """
    return PromptCache(path) if path else None
