"""The core README's quick start, done as a new user does it: in an empty directory, every shell
block run exactly as printed (``pip install django-qstash-core`` finds the wheel built from this
checkout through ``PIP_FIND_LINKS``; its dependencies come from the package index), every file
written or appended as shown, the two servers left running in "terminals" of their own, and
``.delay()`` from a third. The task must run in ``runserver``'s terminal.

It builds a wheel and installs into a fresh virtualenv, so it is a ``packaging`` test (``nox -s
packaging``). Like ``test_make_run.py`` it uses ports 8000 and 8080: they are what it documents.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.commands import all_printed_commands

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "django-qstash-core" / "README.md"
MARKER = re.compile(r"^<!--\s*docs-test:\s*(?:(file|append)\s+(\S+)|(shell[\w ,]*?))\s*-->$")

pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass
class Step:
    kind: str  # "shell", "shell, new terminal", "shell, keeps running", "file", "append"
    path: str | None
    code: str


def quick_start_steps() -> list[Step]:
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    steps = []
    pattern = r"<!--[^>]*-->\n```\w+\n.*?\n```"
    for block in re.findall(pattern, section, re.DOTALL):
        marker, fence, *body = block.split("\n")
        match = MARKER.match(marker)
        assert match, marker
        kind = match.group(1) or match.group(3)
        steps.append(Step(kind, match.group(2), "\n".join(body[:-1]) + "\n"))
    return steps


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to build the wheels")
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [uv, "build", "--all-packages", "--wheel", "--out-dir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


def user_env(wheelhouse: Path, tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_", "PIP_"))
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "DATABASE_URL")
    }
    env.update(
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONUNBUFFERED="1",  # so the test can read runserver's output while it runs
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    return env


PIP_COMMANDS = sorted(c for c in all_printed_commands() if c.startswith("pip install "))
APPS = {
    "django-qstash-core": {"django-qstash-core"},
    "django-qstash-results": {"django-qstash-core", "django-qstash-results"},
    "django-qstash-schedules": {"django-qstash-core", "django-qstash-schedules"},
    "django-qstash": {"django-qstash-core", "django-qstash-results", "django-qstash-schedules"},
    '"django-qstash-core[workflows]"': {"django-qstash-core", "upstash-workflow"},
}


@pytest.mark.parametrize("command", PIP_COMMANDS)
def test_each_printed_pip_install_installs_what_it_says(wheelhouse, tmp_path, command):
    """Each ``pip install`` line of the READMEs, as printed, in a fresh virtualenv."""
    listing = (
        "import importlib.metadata as m; "
        "print(' '.join(sorted(d.metadata['Name'] for d in m.distributions())))"
    )
    script = f'python3 -m venv v && source v/bin/activate\n{command}\npython -c "{listing}"'
    result = subprocess.run(
        ["bash", "-e", "-c", script], cwd=tmp_path, env=user_env(wheelhouse, tmp_path),
        capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    installed = {name.replace("_", "-") for name in result.stdout.split()}
    wanted = set().union(*(APPS[name] for name in command.split()[2:]))
    assert wanted <= installed
    assert not ({"django-qstash-results", "django-qstash-schedules"} - wanted) & installed


def test_the_quick_start_works_as_printed(wheelhouse: Path, tmp_path: Path) -> None:
    busy = [port for port in (8000, 8080) if listening(port)]
    if busy:
        pytest.skip(f"something else listens on {busy}")
    home = tmp_path / "home"
    home.mkdir()
    env = user_env(wheelhouse, tmp_path)
    steps = quick_start_steps()
    assert [s.kind for s in steps] == [
        "shell",
        "append",
        "file",
        "file",
        "shell, new terminal",
        "shell, keeps running",
        "shell, keeps running",
        "shell",
    ]
    new_terminal = next(s.code for s in steps if s.kind == "shell, new terminal")
    project = home / "quickstart"
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    printed = ""
    try:
        for index, step in enumerate(steps):
            if step.kind == "shell" and index == 0:
                result = subprocess.run(
                    ["bash", "-e", "-c", step.code], cwd=home, env=env, capture_output=True,
                    text=True, timeout=400,
                )  # fmt: skip
                assert result.returncode == 0, step.code + result.stdout + result.stderr
            elif step.kind == "append":
                with open(project / step.path, "a") as settings:
                    settings.write("\n" + step.code)
            elif step.kind == "file":
                (project / step.path).write_text(step.code)
            elif step.kind == "shell, keeps running":
                log = tmp_path / f"terminal-{len(running) + 1}.log"
                with open(log, "wb") as out:
                    process = subprocess.Popen(
                        ["bash", "-e", "-c", new_terminal + step.code],
                        cwd=home,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                running.append((process, log))
                port = 8000 if "runserver" in step.code else 8080
                wait_until(lambda: listening(port) or process.poll() is not None, f":{port}")
                assert process.poll() is None, log.read_text()
            elif step.kind == "shell":
                result = subprocess.run(
                    ["bash", "-e", "-c", new_terminal + step.code], cwd=home, env=env,
                    capture_output=True, text=True, timeout=120,
                )  # fmt: skip
                assert result.returncode == 0, step.code + result.stdout + result.stderr
                printed = result.stdout
        # .delay() printed the message id; runserver's terminal shows the task running.
        assert re.search(r"^msg_\w+$", printed, re.MULTILINE), printed
        (devserver, devserver_log), (_, runserver_log) = running
        wait_until(lambda: "add(2, 3) = 5" in runserver_log.read_text(), "the task to run", 30)
        assert re.search(r'"POST /qstash/webhook/ HTTP/1.1" 200', runserver_log.read_text())
        # The dev server's banner prints what the README says: these settings, this command.
        banner = devserver_log.read_text()
        appended = next(s.code for s in steps if s.kind == "append")
        for name, value in re.findall(r"^([A-Z_]+)=(\S+)$", banner, re.MULTILINE):
            shown = value if value in ("True", "False") else f'"{value}"'
            assert f"{name} = {shown}" in appended, name
        runserver = next(s.code for s in steps if "runserver" in s.code).strip()
        assert f"  {runserver}" in banner.splitlines()
        assert not list(project.glob("*.db")), "the dev server wrote into the project"
    finally:
        for process, _ in running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
        for process, _ in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
