"""SQLite plumbing of the prompt cache (:mod:`hybrid_ner.llm.cache`): the
tables, one-transaction writes, and the liveness of a claim's owner."""

import json
import os
import sqlite3
import time
from typing import Any, Iterable, Mapping

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


def alive(pid: int) -> bool:
    """Whether a process of this host is running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class transaction:
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


def insert_answers(conn: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add answers (as recorded: ``key``, ``model``, ``request``,
    ``response``, ``prompt_tokens``, ``completion_tokens``) in one
    transaction, keeping those the cache already holds."""
    with transaction(conn):
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
