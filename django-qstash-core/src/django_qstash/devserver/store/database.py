"""The SQLite connection every part of the store shares: locking, transactions and checkpoints.

One connection shared by every thread behind a re-entrant lock (SQLite serialises writers
anyway), in WAL mode so a ``kill -9`` loses nothing that was acknowledged.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from django_qstash.devserver.store.schema import SCHEMA

#: How often the WAL is copied back into the database file (off the request path).
CHECKPOINT_SECONDS = 1.0


def where_clause(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """``column op ?`` clauses for the non-empty filters (keys are ``"column op"``)."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in filters.items():
        if value is None:
            continue
        column, _, op = key.partition(" ")
        if op == "in":
            values = list(value)
            clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            params.extend(values)
        else:
            clauses.append(f"{column} {op or '='} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class Database:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._checkpointer: threading.Thread | None = None
        self._closed = threading.Event()
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a process crash; only a power cut may lose the tail.
            # Commits then never fsync; checkpoints do, so they run on their own connection
            # (below) instead of inside a commit that holds the store's lock.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="qstash-dev-checkpoint", daemon=True
            )
            self._checkpointer.start()
        self._db.executescript(SCHEMA)

    def _checkpoint_loop(self) -> None:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 5000")
        try:
            while not self._closed.wait(CHECKPOINT_SECONDS):
                # Busy now: the next round catches up.
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def close(self) -> None:
        self._closed.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        with self._lock:
            if self._checkpointer is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit; nested calls join the outer transaction."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # ---------------------------------------------------------------- meta (signing keys)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
