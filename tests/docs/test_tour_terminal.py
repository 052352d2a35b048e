"""``make demo``'s live tour as a person sees it: ``make demo``, run in pseudo-terminals of 80 and
of 120 columns and its output fed to a terminal emulator (pyte). Every column of the table must be
readable on the final screen, and the status line must never say "all done" while a step is still
to come."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyte
import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 80
COLUMNS = ("step", "call", "message id", "QStash", "Django", "tries", "result")
FINAL = {"DELIVERED", "FAILED", "CANCELED", "SUCCESS", "FAILURE"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@dataclass
class Session:
    final: list[str]
    #: Screens on which the status line said "all done", and the table rows then shown.
    all_done_screens: list[list[str]] = field(default_factory=list)
    status_lines: list[str] = field(default_factory=list)


def unboxed(line: str) -> str:
    """A screen line with any table rules turned into spaces (columns keep their positions)."""
    return line.translate({ord(c): " " for c in "┃│┏┓┗┛┡┩┳┻╇╈┣┫━─┼┬┴└┘┌┐╭╮╰╯"}).rstrip()


def run_in_a_terminal(width: int) -> Session:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_"))
        and key not in ("DATABASE_URL", "NO_COLOR", "CI", "COLUMNS", "LINES", "FORCE_COLOR")
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    env["TERM"] = "xterm-256color"
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, width, 0, 0))
    process = subprocess.Popen(
        ["make", "demo"],
        cwd=ROOT,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    screen = pyte.Screen(width, ROWS)
    stream = pyte.ByteStream(screen)
    session = Session(final=[])
    deadline = time.monotonic() + 200
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            stream.feed(chunk)
            display = [unboxed(line) for line in screen.display]
            status = [line for line in display if "waiting for" in line or "all done" in line]
            session.status_lines += status
            if any("all done" in line for line in status):
                session.all_done_screens.append(display)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    session.final = [unboxed(line) for line in screen.display]
    assert process.returncode == 0, "\n".join(session.final)
    return session


def table_rows(screen: list[str]) -> dict[str, str]:
    """The table's rows on a screen, by step (the first word of the row)."""
    rows = {}
    for line in screen:
        words = line.split()
        if words and words[0].split(".")[0] in {
            "plain",
            "countdown",
            "retry",
            "fails",
            "bound",
            "async",
            "djtask",
            "chain",
            "cron",
        }:
            rows[words[0]] = line
    return rows


WIDTHS = (80, 120)


@pytest.fixture(scope="module")
def sessions() -> dict[int, Session]:
    """Both terminals at once (each tour has its own servers, ports and database)."""
    with ThreadPoolExecutor(len(WIDTHS)) as pool:
        futures = {width: pool.submit(run_in_a_terminal, width) for width in WIDTHS}
        return {width: future.result() for width, future in futures.items()}


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}-columns")
def session(request: pytest.FixtureRequest, sessions: dict[int, Session]) -> Session:
    return sessions[request.param]


def test_every_column_is_visible(session: Session) -> None:
    header = next((line for line in session.final if line.split()[:1] == ["step"]), None)
    assert header is not None, "\n".join(session.final)
    for name in COLUMNS:
        assert name in header, f"column {name!r} missing from the header:\n{header}"
    # Each header starts where its column's cells start: find the cells under it.
    starts = [header.index(name) for name in COLUMNS]
    assert starts == sorted(starts), header
    rows = table_rows(session.final)
    assert {"plain", "retry", "fails", "async"} <= set(rows), "\n".join(session.final)

    def cells(line: str) -> list[str]:
        padded = line.ljust(len(header) + 40)
        bounds = [*starts, len(padded)]
        return [padded[a:b].strip() for a, b in zip(bounds, bounds[1:])]

    plain = dict(zip(COLUMNS, cells(rows["plain"])))
    assert plain["step"] == "plain"
    assert plain["call"].startswith("math_add")
    assert plain["message id"].startswith("msg")
    assert (plain["QStash"], plain["Django"], plain["tries"], plain["result"]) == (
        "DELIVERED",
        "SUCCESS",
        "1",
        "466",
    )
    retry = dict(zip(COLUMNS, cells(rows["retry"])))
    assert (retry["QStash"], retry["Django"], retry["tries"], retry["result"]) == (
        "DELIVERED",
        "SUCCESS",
        "3",
        "3",
    )
    fails = dict(zip(COLUMNS, cells(rows["fails"])))
    assert (fails["QStash"], fails["Django"], fails["tries"]) == ("FAILED", "FAILURE", "1")
    assert fails["result"].startswith("ValueError")


def test_all_done_only_once_every_step_is_done(session: Session) -> None:
    assert session.status_lines, "no status line was ever shown"
    assert "waiting for" in session.status_lines[0], session.status_lines[0]
    assert session.all_done_screens, "the tour never said it was done"
    for screen in session.all_done_screens:
        rows = table_rows(screen)
        assert {"plain", "countdown", "retry", "fails", "bound", "async"} <= set(rows)
        for line in rows.values():
            assert any(state in line.split() for state in FINAL), line
