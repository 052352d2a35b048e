"""Non-blocking exclusive locks on keys (message ids, signature ids), for the lock claim mode.

None of them costs a database commit. A worker that dies releases its locks with its process
(or its database session), so a crashed worker never leaves a message locked.

* :class:`AdvisoryLocks` (PostgreSQL): session-level advisory locks
  (``pg_try_advisory_lock``) on a 64-bit hash of each key, held by the database session of the
  thread that claimed the delivery. They work across any number of hosts; the server releases
  them when the session ends (the worker died, or its connection broke).

SQLite lives on one host, so the deliveries that can race for a message all run on that host:
a lock shared by the host's processes and threads is enough to make them take turns.

* :class:`FileLocks`: Linux open-file-description byte-range locks (``F_OFD_SETLK``) on one
  lock file next to the database, one byte per key (a 62-bit hash). They conflict between
  processes *and* between threads (each acquisition opens its own descriptor), never block,
  and the kernel releases them when the process dies, so a crashed worker never leaves a
  message locked.
* :class:`ProcessLocks`: the same, inside one process (for in-memory SQLite databases, which
  no other process can open anyway).
"""

from __future__ import annotations

import errno
import hashlib
import os
import struct
import sys
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from django.db import DatabaseError, connections

_OFFSET_SPACE = 1 << 62


def ofd_locks_available() -> bool:
    """True where :class:`FileLocks` works (Linux, 64-bit, Python's fcntl has F_OFD_SETLK)."""
    if sys.platform != "linux" or struct.calcsize("P") != 8:
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Linux always has fcntl
        return False
    return hasattr(fcntl, "F_OFD_SETLK")


def _offset(key: str) -> int:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _OFFSET_SPACE


class Held(Protocol):
    def release(self) -> None: ...

    def still_held(self) -> bool:
        """True while the locks are held (a database session that ended lost its locks)."""

    def renew(self) -> None:
        """Hold the locks again if they were lost with a database session (best effort)."""


class Locks(Protocol):
    def try_acquire(self, keys: list[str]) -> Held | str:
        """Hold every key, or none: return the handle, or the first key that is taken."""


class _FileHeld:
    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases its OFD locks

    def still_held(self) -> bool:
        return self._fd is not None

    def renew(self) -> None:
        pass  # a descriptor of this process cannot lose its locks


class FileLocks:
    """Host-wide locks: OFD byte-range locks on ``path`` (created if missing)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"<FileLocks {self.path}>"

    def try_acquire(self, keys: list[str]) -> Held | str:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            for key in keys:
                request = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, _offset(key), 1, 0)
                try:
                    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EACCES):
                        os.close(fd)
                        return key
                    raise
        except BaseException:
            os.close(fd)
            raise
        return _FileHeld(fd)


class _ProcessHeld:
    def __init__(self, owner: ProcessLocks, keys: list[str]) -> None:
        self._owner: ProcessLocks | None = owner
        self._keys = keys

    def release(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            with owner._mutex:
                owner._taken.difference_update(self._keys)

    def still_held(self) -> bool:
        return self._owner is not None

    def renew(self) -> None:
        pass


class ProcessLocks:
    """Locks shared by the threads of this process only."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._taken: set[str] = set()

    def try_acquire(self, keys: list[str]) -> Held | str:
        with self._mutex:
            for key in keys:
                if key in self._taken:
                    return key
            self._taken.update(keys)
        return _ProcessHeld(self, keys)


# ------------------------------------------------------------------------------ PostgreSQL


def advisory_key(key: str) -> int:
    """The signed 64-bit advisory lock id of ``key`` (namespaced, so an application's own
    advisory locks on small integers never meet ours)."""
    digest = hashlib.blake2b(f"django_qstash:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _select(function: str, count: int) -> str:
    return "SELECT " + ", ".join([f"{function}(%s)"] * count)


def _pipelines(connection: Any) -> bool:
    """Can several statements with parameters go in one round trip? With psycopg 3's
    client-side binding cursors (Django's default), yes; with server-side binding
    (``OPTIONS = {"server_side_binding": True}``) or psycopg2, they go one by one."""
    from django.db.backends.postgresql.psycopg_any import is_psycopg3

    return is_psycopg3 and not connection.settings_dict.get("OPTIONS", {}).get(
        "server_side_binding"
    )


class _AdvisoryHeld:
    def __init__(self, using: str, session: object, ids: list[int]) -> None:
        self._using = using
        #: The DB-API connection (the server session) that holds the locks.
        self._session = session
        self._ids = ids

    def _mine(self) -> bool:
        # Django's connections are per thread: another thread, or this one after a reconnect,
        # has another session, which does not hold these locks.
        session = connections[self._using].connection
        return session is not None and session is self._session

    def release(self) -> None:
        ids, self._ids = self._ids, []
        if not ids or not self._mine():
            return  # the session that held them is gone, and its locks with it
        try:
            with connections[self._using].cursor() as cursor:
                cursor.execute(_select("pg_advisory_unlock", len(ids)), ids)
        except DatabaseError:
            pass  # the session broke: the server released its locks when it ended

    def still_held(self) -> bool:
        return bool(self._ids) and self._mine()

    def release_after(self, sql: str, params: Sequence[Any]) -> None:
        """Run the write ``sql``, commit it, then release the locks: in one round trip where
        the connection is in autocommit and pipelines (the ``COMMIT`` makes the write visible
        before the unlock, so whoever takes the locks next reads it), else the write alone
        (the caller releases)."""
        connection = connections[self._using]
        with connection.cursor() as cursor:
            if (
                self._ids
                and self._mine()
                and connection.get_autocommit()
                and not connection.in_atomic_block
                and _pipelines(connection)
            ):
                unlock = _select("pg_advisory_unlock", len(self._ids))
                cursor.execute(f"{sql}; COMMIT; {unlock}", [*params, *self._ids])
                self._ids = []  # a failed write skips the rest: the locks are still held
            else:
                cursor.execute(sql, params)

    def renew(self) -> None:
        if not self._ids or self._mine():
            return
        connection = connections[self._using]
        with connection.cursor() as cursor:
            cursor.execute(_select("pg_try_advisory_lock", len(self._ids)), self._ids)
            got = cursor.fetchone()
        self._session = connection.connection
        # A lock another session took meanwhile is its own: never unlock it from here.
        self._ids = [i for i, ok in zip(self._ids, got, strict=True) if ok]


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, on the connection of database ``using``."""

    def __init__(self, using: str) -> None:
        self.using = using

    def __repr__(self) -> str:
        return f"<AdvisoryLocks {self.using}>"

    def try_acquire(self, keys: list[str]) -> Held | str:
        held, _ = self.try_acquire_then(keys, None, ())
        return held

    def try_acquire_then(
        self, keys: list[str], sql: str | None, params: Sequence[Any]
    ) -> tuple[Held | str, list[tuple[Any, ...]]]:
        """:meth:`try_acquire`, then the query ``sql`` (whether or not the locks were taken),
        in one round trip where the connection pipelines: (the locks or the first key taken,
        the query's rows). The query is a statement of its own, after the locks: it sees what
        was committed before the locks were released to us."""
        connection = connections[self.using]
        ids = [advisory_key(key) for key in keys]
        lock = _select("pg_try_advisory_lock", len(ids))
        rows: list[tuple[Any, ...]] = []
        with connection.cursor() as cursor:
            if sql is not None and _pipelines(connection):
                cursor.execute(f"{lock}; {sql}", [*ids, *params])
                got = list(cursor.fetchone())
                cursor.nextset()
                rows = cursor.fetchall()
            else:
                cursor.execute(lock, ids)
                got = list(cursor.fetchone())
                if sql is not None:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall()
        session = connection.connection
        if all(got):
            return _AdvisoryHeld(self.using, session, ids), rows
        _AdvisoryHeld(
            self.using, session, [i for i, ok in zip(ids, got, strict=True) if ok]
        ).release()
        return keys[got.index(False)], rows
