"""The host-wide locks behind the lock claim mode."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from django_qstash.results.locks import FileLocks, ProcessLocks, ofd_locks_available

needs_ofd = pytest.mark.skipif(not ofd_locks_available(), reason="OFD locks are Linux-only")


@pytest.fixture(params=["file", "process"])
def locks(request, tmp_path):
    if request.param == "file":
        if not ofd_locks_available():
            pytest.skip("OFD locks are Linux-only")
        return FileLocks(str(tmp_path / "db.sqlite3.qstash-locks"))
    return ProcessLocks()


def test_all_or_nothing(locks):
    first = locks.try_acquire(["jti:a", "msg:1"])
    assert not isinstance(first, str)
    assert locks.try_acquire(["jti:b", "msg:1"]) == "msg:1"
    # The failed attempt took nothing: jti:b is free.
    second = locks.try_acquire(["jti:b", "msg:2"])
    assert not isinstance(second, str)
    assert locks.try_acquire(["jti:a"]) == "jti:a"
    first.release()
    first.release()  # releasing twice is harmless
    third = locks.try_acquire(["jti:a", "msg:1"])
    assert not isinstance(third, str)
    third.release()
    second.release()


def test_threads_take_turns(locks):
    held = locks.try_acquire(["msg:1"])
    seen: list[object] = []
    thread = threading.Thread(target=lambda: seen.append(locks.try_acquire(["msg:1"])))
    thread.start()
    thread.join()
    assert seen == ["msg:1"]
    held.release()


@needs_ofd
def test_processes_take_turns_and_a_dead_process_holds_nothing(tmp_path):
    path = str(tmp_path / "db.sqlite3.qstash-locks")
    code = textwrap.dedent(
        f"""
        import sys
        from django_qstash.results.locks import FileLocks
        held = FileLocks({path!r}).try_acquire(["msg:1"])
        print("held" if not isinstance(held, str) else "busy", flush=True)
        sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        locks = FileLocks(path)
        assert locks.try_acquire(["msg:1"]) == "msg:1"
        assert not isinstance(other := locks.try_acquire(["msg:2"]), str)
        other.release()
        child.kill()  # dies without releasing anything
        child.wait(10)
        mine = locks.try_acquire(["msg:1"])
        assert not isinstance(mine, str)
        mine.release()
    finally:
        child.kill()
        child.wait(10)
