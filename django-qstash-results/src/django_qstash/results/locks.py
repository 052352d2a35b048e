"""Non-blocking exclusive locks on keys (message ids, signature ids), for the SQLite claim.

SQLite lives on one host, so the deliveries that can race for a message all run on that host:
a lock shared by the host's processes and threads is enough to make them take turns, and it
costs no database commit (on SQLite each commit costs several fsyncs).

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
from typing import Protocol

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
