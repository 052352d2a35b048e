"""Every shell command a user is shown (the READMEs' ``bash`` blocks, the tour's closing words, the
dev server's banner, ``make run``'s hint) is run by a test exactly as printed, or listed below
with the reason it cannot be.

The commands that need the sample project run here, from ``sample_project/`` with the workspace's
virtualenv first on ``PATH`` (as after ``source .venv/bin/activate``) and a database of the test's
own; the others are run by the modules named in ``RUN_ELSEWHERE``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.docs.commands import ROOT, all_printed_commands
from tests.docs.test_quick_start import quick_start_steps

SAMPLE_PROJECT = ROOT / "sample_project"

#: Printed, but not run by any test.
NOT_RUN = {
    "make test": "the whole matrix, PostgreSQL and lint: what runs this suite, so not run by it",
    "cloudflared tunnel --url http://127.0.0.1:8000": "a third-party binary and a public tunnel",
}

#: Run exactly as printed by another module (which this test checks names the command).
RUN_ELSEWHERE = {
    "make demo": "tests/docs/test_tour_terminal.py",
    "make run": "tests/docs/test_make_run.py",
}

#: Servers: started as printed, and stopped (Ctrl-C) once their banner is out.
SERVERS = [
    "python -m django_qstash.devserver",
    "python manage.py qstash_dev",
    "python -m django_qstash.devserver --fast-retries --cron-tick 2",
]
#: Run as printed against the sample project, in this order (the migrations first); a prompt is
#: answered "no".
ONE_SHOT = [
    "python manage.py migrate django_qstash_results",
    "python manage.py migrate django_qstash_schedules",
    "python manage.py clear_stale_results --since 604800",
    "python manage.py clear_stale_results --since 604800 --no-input",
    "python manage.py clear_stale_results --dry-run",
    "python manage.py task_schedules --list",
    "python manage.py task_schedules --sync --dry-run",
    "python manage.py task_schedules --sync",
    "python manage.py task_schedules --sync --no-input",
    "python manage.py qstash_dlq --list",
    "python manage.py qstash_dlq --list --task 'app.tasks.*' --newer-than 2h --json",
    "python manage.py qstash_dlq --requeue --all --task app.tasks.send_email --no-input",
    "python manage.py qstash_metrics",
    "python manage.py qstash_metrics --since 7d --json",
    "python manage.py migrate django_qstash_outbox",
    "python manage.py drain_outbox --once",
    "python manage.py drain_outbox --schedule",
    "python manage.py drain_outbox --unschedule",
]
#: The outbox is opt-in and the sample project leaves it out: these run as printed, with the
#: outbox in INSTALLED_APPS (the sample project's settings plus it, as its README says).
OUTBOX_COMMANDS = {command for command in ONE_SHOT if "outbox" in command}
OUTBOX_SETTINGS = {
    "DJANGO_SETTINGS_MODULE": "tests.outbox.server_settings",
    "PYTHONPATH": os.pathsep.join([str(SAMPLE_PROJECT), str(ROOT)]),
}
#: Run as printed too, but their example ids name no dead letter here: each must refuse with a
#: message and a non-zero status, never a traceback.
REFUSED = [
    "python manage.py qstash_dlq --get 1796540653936-1",
    "python manage.py qstash_dlq --requeue 1796540653936-1",
    "python manage.py qstash_dlq --delete 1796540653936-1 1796540653852-0",
]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def quick_start_commands() -> set[str]:
    return {
        line.strip()
        for step in quick_start_steps()
        if step.kind.startswith("shell")
        for line in step.code.splitlines()
        if line.strip()
    }


def test_every_printed_command_is_run_by_a_test_or_says_why_not() -> None:
    printed = set(all_printed_commands())
    pip = {command for command in printed if command.startswith("pip install ")}
    covered = (
        set(NOT_RUN)
        | set(RUN_ELSEWHERE)
        | set(SERVERS)
        | set(ONE_SHOT)
        | set(REFUSED)
        | quick_start_commands()  # tests/docs/test_quick_start.py
        | pip  # test_quick_start.py::test_each_printed_pip_install_installs_what_it_says
    )
    assert sorted(printed - covered) == [], "printed commands no test runs"
    assert sorted((set(SERVERS) | set(ONE_SHOT) | set(REFUSED)) - printed) == [], (
        "listed, but not printed"
    )
    for command, module in RUN_ELSEWHERE.items():
        argv = json.dumps(command.split())  # e.g. ["make", "demo"], as subprocess runs it
        assert argv in (ROOT / module).read_text(), f"{module} does not run {command!r}"
    # The tour ends by pointing at make run.
    assert "Run [bold]make run[/bold]" in (SAMPLE_PROJECT / "tour" / "render.py").read_text()


def activated_env(tmp_path: Path) -> dict[str, str]:
    """A shell in which the workspace's virtualenv is activated, on a database of its own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_"))
        and key not in ("DATABASE_URL", "PYTHONPATH")
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(Path(sys.executable).parent.parent),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONUNBUFFERED="1",
    )
    return env


class Terminal:
    """A command left running, as in a terminal of its own."""

    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                ["bash", "-c", command],
                cwd=SAMPLE_PROJECT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)
        return self.log.read_text()

    def ctrl_c(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


@pytest.fixture
def free_8080() -> Iterator[None]:
    try:
        httpx.get("http://127.0.0.1:8080", timeout=0.5, trust_env=False)
    except httpx.TransportError:
        yield
        return
    pytest.skip("something listens on 8080, the dev server's documented port")


@pytest.mark.usefixtures("free_8080")
@pytest.mark.parametrize("command", SERVERS)
def test_each_printed_dev_server_command_starts_it(command: str, tmp_path: Path) -> None:
    terminal = Terminal(command, activated_env(tmp_path), tmp_path / "terminal.log")
    try:
        banner = terminal.wait_for("python manage.py runserver")
        assert "QStash dev server running at http://127.0.0.1:8080" in banner
        if "--cron-tick 2" in command:
            assert "a cron minute lasts 2s" in banner
        # The command the banner prints is the quick start's (run there, as printed).
        shown = [line.strip() for line in banner.splitlines() if line.startswith("  python ")]
        assert shown
        assert set(shown) <= quick_start_commands()
    finally:
        assert terminal.ctrl_c() == 0, terminal.log.read_text()
    assert "QStash dev server stopped." in terminal.log.read_text()


@pytest.mark.usefixtures("free_8080")
def test_each_printed_management_command_runs(tmp_path: Path) -> None:
    env = activated_env(tmp_path)
    # task_schedules talks to QStash: the sample project's default, the dev server on 8080.
    devserver = Terminal(SERVERS[0], env, tmp_path / "devserver.log")
    try:
        devserver.wait_for("python manage.py runserver")
        for command in ONE_SHOT:
            command_env = {**env, **OUTBOX_SETTINGS} if command in OUTBOX_COMMANDS else env
            result = subprocess.run(
                ["bash", "-c", command], cwd=SAMPLE_PROJECT, env=command_env, input="no\n",
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
            assert "Traceback" not in result.stderr, result.stderr
            if command.endswith("--once"):
                assert "0 published, 0 failed, 0 pending" in result.stdout, result.stdout
            if command.endswith("--schedule"):
                assert "django-qstash-outbox-drain" in result.stdout, result.stdout
        for command in REFUSED:
            result = subprocess.run(
                ["bash", "-c", command], cwd=SAMPLE_PROJECT, env=env, input="no\n",
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert result.returncode != 0, f"{command}\n{result.stdout}{result.stderr}"
            assert "1796540653936-1" in result.stderr, result.stderr
            assert "Traceback" not in result.stderr, result.stderr
    finally:
        devserver.ctrl_c()
