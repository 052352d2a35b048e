"""``make run`` as a user runs it: twice in a row, on the ports the README and the sample settings
name (8000 and 8080) both times, and the command it prints works exactly as printed.

This is the only test allowed to use ports 8000 and 8080 (they are what it checks). The sample
project's database is a temporary file (``DATABASE_URL``), as a user who exported one would have.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops both servers."

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def user_env(database: Path) -> dict[str, str]:
    """A user's shell: none of the test run's Django, QStash or virtualenv variables."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_"))
        and key not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH")
    }
    env["DATABASE_URL"] = f"sqlite:///{database}"
    return env


class MakeRun:
    """``make run`` in its own process group, its output read line by line as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["make", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 180.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            self.output.append(line)
            if text in line:
                return "\n".join(self.output)
        self.stop()
        pytest.fail(f"make run never printed {text!r}:\n" + "\n".join(self.output))

    def rest(self) -> str:
        """Everything it printed, once it has exited."""
        while (line := self.lines.get(timeout=10)) is not None:
            self.output.append(line)
        return "\n".join(self.output)

    def stop(self) -> int:
        """What Ctrl-C does: SIGINT to the whole foreground process group."""
        # SIGTERM next (the demo still stops its servers on it), SIGKILL last: the servers run in
        # their own sessions, so a demo killed outright would leave them holding 8000 and 8080.
        for sig, patience in ((signal.SIGINT, 90), (signal.SIGTERM, 30), (signal.SIGKILL, None)):
            if self.process.poll() is not None:
                break
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=patience)
            except subprocess.TimeoutExpired:
                continue
        return self.process.returncode


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[list[MakeRun]]:
    busy = [port for port in (8000, 8080) if listening(port)]
    if busy:
        pytest.skip(f"something else listens on {busy}; this test needs 8000 and 8080 free")
    runs: list[MakeRun] = []
    yield runs
    for run in runs:
        run.stop()


def the_printed_command(output: str) -> str:
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith("Try it in another"))
    return lines[index + 1].strip()


def run_in_a_shell(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_make_run_twice_keeps_its_ports_and_its_printed_command_works(make_run, tmp_path):
    env = user_env(tmp_path / "db.sqlite3")
    first = MakeRun(env)
    make_run.append(first)
    output = first.wait_for(READY)
    assert "sample project     http://127.0.0.1:8000 " in output, output
    assert "QStash dev server  http://127.0.0.1:8080 " in output, output
    assert "admin              http://127.0.0.1:8000/admin/   user admin, password admin" in output

    # The command, exactly as printed, from a shell in which nothing is activated.
    command = the_printed_command(output)
    shell = run_in_a_shell(command, env)
    assert shell.returncode == 0, f"{command}\n{shell.stdout}{shell.stderr}"
    assert shell.stdout.strip().splitlines()[-1] == "5", shell.stdout
    # The admin answers where the README says (connections the server closes: TIME_WAIT).
    for _ in range(3):
        assert httpx.get("http://127.0.0.1:8000/admin/login/", trust_env=False).status_code == 200

    # A countdown task published from that second terminal is listed at once (PENDING), before
    # QStash delivers it: the shell has the servers' settings, not only the servers.
    python_and_manage = command.split(" shell -c ")[0]
    pending = run_in_a_shell(
        f"{python_and_manage} shell -c 'from example.tasks import hello_world; "
        "from django_qstash.results.models import TaskResult; "
        'r = hello_world.apply_async(args=("Pepper",), countdown=600); '
        "print(TaskResult.objects.get(task_id=r.id).status)'",
        env,
    )
    assert pending.stdout.strip().splitlines()[-1] == "PENDING", pending.stdout + pending.stderr

    first.stop()  # make itself then exits on the SIGINT, as after a Ctrl-C
    assert "both servers stopped" in first.rest()
    assert not listening(8000)
    assert not listening(8080)

    # At once again: the same ports, although the last run's connections are in TIME_WAIT.
    second = MakeRun(env)
    make_run.append(second)
    output = second.wait_for(READY)
    assert "sample project     http://127.0.0.1:8000 " in output, output
    assert "QStash dev server  http://127.0.0.1:8080 " in output, output
    assert the_printed_command(output) == command
    again = run_in_a_shell(command, env)
    assert again.stdout.strip().splitlines()[-1] == "5", again.stdout + again.stderr
    second.stop()
    assert "both servers stopped" in second.rest()


def test_the_printed_command_names_moved_ports_only() -> None:
    """Where 8000 or 8080 is taken, make run moves and the command carries the new addresses."""
    import sys

    sys.path.insert(0, str(ROOT / "sample_project"))
    from tour.serve import try_it_command
    from tour.servers import Stack

    def command(qstash_port: int, django_port: int) -> str:
        stack = Stack(Path("."), "", qstash_port, django_port, [], Path("q.db"))
        stack.qstash_url = f"http://127.0.0.1:{qstash_port}"
        return try_it_command(stack)

    assert "=" not in command(8080, 8000).split(" shell -c ")[0]
    moved = command(40001, 40002)
    assert re.match(
        r"^DJANGO_QSTASH_DOMAIN=http://127\.0\.0\.1:40002 QSTASH_URL=http://127\.0\.0\.1:40001 ",
        moved,
    )
