"""A persistent prompt-level cache of LLM answers (SQLite).

Keyed by a hash of the model identity, the exact messages and the
generation parameters, so a different model, prompt, example set or
temperature never hits another's answer (unlike spacy-llm's BatchCache).
Every answer is committed as soon as it arrives, in WAL mode: after a crash
or ``kill -9`` only the requests in flight are lost, and a re-run resumes.
(One commit per answer is kept on purpose: it costs ~0.1 ms, far below a
request, so grouping commits would only widen what a kill can lose.)

Processes sharing one cache do not pay twice for a prompt: before sending,
a process claims the key (:meth:`PromptCache.claim`, one atomic
``BEGIN IMMEDIATE`` transaction over ``answers`` and ``claims``); a key that
another live process has claimed is waited for (its answer appears in
``answers``) instead of sent. The answer and the removal of the claim are
one commit. A claim whose owner released it (its request failed), died
(same host, its process is gone) or stopped refreshing it for
``claim_timeout`` seconds (another host, a hung process) is taken over.

Recorded answers (a portable, versioned file of cache entries, see
:func:`write_recorded` and :func:`read_recorded`) are added to the cache when
it opens, so they replay as cache hits.
"""

import gzip
import hashlib
import json
import os
import random
import socket
import sqlite3
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple, Union

from spacy_llm.registry import registry

from ..errors import HybridNerError

#: SQLite errors about the storage, not the content (the cache stays valid).
_STORAGE_ERRORS = ("full", "disk i/o", "readonly", "read-only", "locked", "busy", "quota")


class CacheWriteError(HybridNerError):
    """The prompt cache could not store an answer (disk full, read-only);
    what it holds is valid."""


#: :meth:`PromptCache.claim` results.
CLAIM_CLAIMED, CLAIM_ANSWERED, CLAIM_BUSY = "claimed", "answered", "busy"
#: The prompt cache file of ``hybrid_ner.PromptCache.v1`` (relative to the working directory).
DEFAULT_CACHE_PATH = ".cache/llm/prompts.sqlite"

# Seconds to wait for other processes' locks (SQLite's busy timeout, and the open retries).
_OPEN_TIMEOUT = 60.0

_SELECT_ANSWER = "SELECT response, prompt_tokens, completion_tokens FROM answers WHERE key = ?"

SCHEMA = """
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
# A key some process is sending now; owner is unique per PromptCache object.
CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    claimed_at REAL NOT NULL
)
"""
# Keys per "IN (...)" query (SQLite allows 999 variables in old builds).
CHUNK = 500
#: The first line of a recording names its format and version.
FORMAT = "hybrid-ner-recorded-answers"
VERSION = 1


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
    """An answer as stored."""

    response: str
    prompt_tokens: int
    completion_tokens: int


class PromptCache:
    """SQLite store of answers, safe for threads and for several processes.

    path (Union[str, Path]): The database file; parent folders are created.
    claim_timeout (float): Seconds after which a claim its owner did not
        refresh (:meth:`refresh_claims`) is stale and may be taken over.
    recorded (Optional[Union[str, Path]]): Recorded answers
        (:func:`read_recorded`) added to the cache when it opens,
        without replacing answers it already holds: they are then replayed as
        cache hits.
    """

    def __init__(
        self,
        path: Union[str, Path],
        claim_timeout: float = 60.0,
        recorded: Optional[Union[str, Path]] = None,
    ) -> None:
        self.path = Path(path)
        self.recorded = Path(recorded) if recorded else None
        self.claim_timeout = claim_timeout
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = self._open()
                if self.recorded is not None:
                    recording = read_recorded(self.recorded)
                    _insert_answers(conn, recording.rows)
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
        """Connect, switch to WAL and create the tables, retrying while
        another process does the same. Switching the journal mode and
        upgrading a read to a write can fail with "database is locked" at
        once, without SQLite's busy wait (it would deadlock), when several
        processes open a new cache together; the tables are created under
        ``BEGIN IMMEDIATE``, which does wait."""
        deadline = time.monotonic() + _OPEN_TIMEOUT
        delay = 0.005
        while True:
            conn = sqlite3.connect(
                str(self.path),
                timeout=_OPEN_TIMEOUT,
                check_same_thread=False,
                isolation_level=None,
            )
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL survives a killed process (not a power cut mid-commit).
                conn.execute("PRAGMA synchronous=NORMAL")
                with _transaction(conn):
                    conn.execute(SCHEMA)
                    conn.execute(CLAIMS_SCHEMA)
                return conn
            except sqlite3.Error as err:
                conn.close()  # (also on other errors: no connection left open)
                locked = isinstance(err, sqlite3.OperationalError) and (
                    "locked" in str(err) or "busy" in str(err)
                )
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (1 + random.random()))  # jitter: openers fall out of step
                delay = min(delay * 2, 0.5)

    def get(self, key: str) -> Optional[CachedAnswer]:
        """The stored answer for a key, or None."""
        with self._lock:
            try:
                row = (
                    self._connection()
                    .execute(
                        _SELECT_ANSWER,
                        (key,),
                    )
                    .fetchone()
                )
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from None
        return CachedAnswer(*row) if row else None

    def put(self, key: str, model: str, request: Dict[str, Any], answer: CachedAnswer) -> None:
        """Store an answer and drop the key's claim; committed before this returns."""
        with self._lock:
            try:
                conn = self._connection()
                with _transaction(conn):
                    conn.execute(
                        "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            key,
                            model,
                            json.dumps(request, ensure_ascii=False),
                            answer.response,
                            answer.prompt_tokens,
                            answer.completion_tokens,
                            time.time(),
                        ),
                    )
                    conn.execute("DELETE FROM claims WHERE key = ?", (key,))
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from None

    def get_many(self, keys: Iterable[str]) -> Dict[str, CachedAnswer]:
        """The stored answers of those keys that have one."""
        rows = self._select_in(
            "SELECT key, response, prompt_tokens, completion_tokens FROM answers", keys
        )
        return {row[0]: CachedAnswer(*row[1:]) for row in rows}

    def present(self, keys: Iterable[str]) -> Set[str]:
        """The keys that have a stored answer."""
        return {row[0] for row in self._select_in("SELECT key FROM answers", keys)}

    def _select_in(self, select: str, keys: Iterable[str]) -> List[tuple]:
        """Rows of ``select`` whose key is one of keys (in chunks: SQLite
        limits the variables of one statement)."""
        keys = list(keys)
        rows: List[tuple] = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            with self._lock:
                try:
                    rows += (
                        self._connection()
                        .execute(f"{select} WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                        .fetchall()
                    )
                except sqlite3.DatabaseError as err:
                    raise self._corrupt(err) from None
        return rows

    def claim(self, key: str) -> Tuple[str, Optional[CachedAnswer]]:
        """Claim a key before sending its request, atomically across processes.

        key (str): The request's key.
        RETURNS (Tuple[str, Optional[CachedAnswer]]): ``(CLAIM_ANSWERED,
            answer)`` if it is answered already; ``(CLAIM_CLAIMED, None)`` if
            this object owns the claim now (send, then :meth:`put` or
            :meth:`release`); ``(CLAIM_BUSY, None)`` if another live owner
            holds it (wait for its answer: :meth:`get_many`, :meth:`claimable`).
        """
        with self._lock:
            try:
                conn = self._connection()
                with _transaction(conn):  # no other writer between the look and the take
                    row = conn.execute(
                        _SELECT_ANSWER,
                        (key,),
                    ).fetchone()
                    if row:
                        return CLAIM_ANSWERED, CachedAnswer(*row)
                    holder = conn.execute(
                        "SELECT owner, host, pid, claimed_at FROM claims WHERE key = ?", (key,)
                    ).fetchone()
                    if (
                        holder is not None
                        and holder[0] != self.owner
                        and not self._stale(*holder[1:])
                    ):
                        return CLAIM_BUSY, None
                    conn.execute(
                        "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                        (key, self.owner, self.host, os.getpid(), time.time()),
                    )
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from None
        return CLAIM_CLAIMED, None

    def claimable(self, keys: Iterable[str]) -> Set[str]:
        """Of keys without an answer, those no other owner holds a live claim on."""
        keys = list(keys)
        rows = self._select_in("SELECT key, owner, host, pid, claimed_at FROM claims", keys)
        held = {row[0] for row in rows if row[1] != self.owner and not self._stale(*row[2:])}
        return {key for key in keys if key not in held}

    def _stale(self, host: str, pid: int, claimed_at: float) -> bool:
        if host == self.host and not _alive(pid):
            return True
        return time.time() - claimed_at > self.claim_timeout

    def release(self, key: str) -> None:
        """Drop this object's claim on a key (its request failed)."""
        self._write("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))

    def refresh_claims(self) -> None:
        """Mark this object's claims alive (call well within ``claim_timeout``)."""
        self._write("UPDATE claims SET claimed_at = ? WHERE owner = ?", (time.time(), self.owner))

    def release_claims(self) -> None:
        """Drop all claims of this object (at close)."""
        if self._conn is not None:  # never opened: holds none
            self._write("DELETE FROM claims WHERE owner = ?", (self.owner,))

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock:
            try:
                self._connection().execute(sql, args)
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from None

    def _corrupt(self, err: sqlite3.DatabaseError) -> HybridNerError:
        """One line naming the file, not a sqlite traceback. Only a file
        that is not (or no longer) a database is called unreadable: a full
        disk, a read-only file or a lock says nothing against the answers
        the cache holds."""
        text = str(err).lower()
        if any(word in text for word in _STORAGE_ERRORS):
            return CacheWriteError(
                f"{self.path}: the prompt cache cannot store more answers ({err}); the answers "
                "it holds are valid, keep it: free disk space (or make it writable) and re-run "
                "the same command to resume"
            )
        return HybridNerError(
            f"{self.path}: the prompt cache is unreadable ({err}); move it away to start a new one"
        )

    def rows(self, keys: Iterable[str]) -> List[Dict[str, Any]]:
        """The stored entries of ``keys`` as a recording holds them (in that
        order); an error names the first key without an answer.

        RAISES (HybridNerError): If a key has no answer.
        """
        keys = list(keys)
        found = {
            row[0]: row
            for row in self._select_in(
                "SELECT key, model, request, response, prompt_tokens, completion_tokens "
                "FROM answers",
                keys,
            )
        }
        missing = next((key for key in keys if key not in found), None)
        if missing is not None:
            raise HybridNerError(
                f"{self.path}: no cached answer for prompt {missing[:12]}…; run `hybrid-ner "
                "propose` first"
            )
        return [
            {
                "key": key,
                "model": found[key][1],
                "request": json.loads(found[key][2]),
                "response": found[key][3],
                "prompt_tokens": found[key][4],
                "completion_tokens": found[key][5],
            }
            for key in keys
        ]

    def __len__(self) -> int:
        with self._lock:
            return self._connection().execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


@registry.llm_misc("hybrid_ner.PromptCache.v1")
def create_prompt_cache(
    path: Optional[str] = DEFAULT_CACHE_PATH, recorded: Optional[str] = None
) -> Optional[PromptCache]:
    """A persistent prompt-level cache of LLM answers.

    path (Optional[str]): SQLite file; None disables caching (answers are
        then lost at exit: not advisable with paid APIs).
    recorded (Optional[str]): Recorded answers (.jsonl.gz, see
        ``hybrid-ner record-answers``) to replay as cache hits; "" or None for none.
    RETURNS (Optional[PromptCache]): The cache, or None.
    """
    if not path:
        if recorded:
            raise HybridNerError(
                "Recorded answers are replayed through the prompt cache: give the cache a path"
            )
        return None
    return PromptCache(path, recorded=recorded or None)


def _alive(pid: int) -> bool:
    """Whether a process of this host is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on errors) on an
    autocommit connection: one atomic write, the write lock taken at once."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:  # (SQLite rolls back by itself after some errors)
            self.conn.execute("ROLLBACK")


def _insert_answers(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add recorded answers in one transaction, keeping those the cache holds."""
    with _transaction(conn):
        conn.executemany(
            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r["key"],
                    r["model"],
                    json.dumps(r["request"], ensure_ascii=False),
                    r["response"],
                    int(r["prompt_tokens"]),
                    int(r["completion_tokens"]),
                    time.time(),
                )
                for r in rows
            ],
        )


# ---------------------------------------------------------------- recorded answers
# A project can ship the answers an LLM gave (e.g. the embedded LLM on the
# bundled WikiGold corpus), so a first run replays them instead of spending an
# hour of CPU: the prompt cache takes them in when it opens (``recorded``), so
# they are found by the same key, counted as cache hits, and the model is never
# loaded. Any change of prompt, examples, model or settings changes the key, so a
# recording can never answer a prompt it was not made for.
#
# Format: gzip-compressed JSON lines. The first line is the header
# ``{"format": "hybrid-ner-recorded-answers", "version": 1, "provenance": {...}}``
# (model, weights hash, settings, date, licence of the source text); then one
# object per answer: ``key``, ``model``, ``request`` (messages and parameters),
# ``response``, ``prompt_tokens``, ``completion_tokens``.


@dataclass
class Recording:
    """The content of a recording: its provenance, its answers, and how many
    blank answers it held (left out: a blank answer is a failed request)."""

    provenance: Dict[str, Any]
    rows: List[Dict[str, Any]]
    blank: int


def read_recorded(path: Union[str, Path]) -> Recording:
    """Read and check a recording; an error names the file and line.

    path (Union[str, Path]): The ``.jsonl.gz`` file.
    RETURNS (Recording): Provenance and answers.
    RAISES (HybridNerError): For a missing, unreadable or malformed file.
    """
    path = Path(path)
    recording = Recording({}, [], 0)
    for i, row in enumerate(_read_lines(path), 1):
        if i == 1:
            if row.get("format") != FORMAT or row.get("version") != VERSION:
                raise HybridNerError(f"{path}:1: not a {FORMAT} file of version {VERSION}")
            recording.provenance = dict(row.get("provenance") or {})
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
                f"{path}:{i}: a recorded answer needs key, model, request, response and "
                "token counts"
            )
        if not row["response"].strip():
            # A blank answer is a failed request, never "no entities": replayed as a
            # cache hit it would never be asked again. Left out (counted).
            recording.blank += 1
            continue
        recording.rows.append(row)
    if not recording.provenance:
        raise HybridNerError(f"{path}: empty recording (no header line)")
    return recording


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
