"""The two servers of the loop (the QStash dev server and the sample project) as child processes,
and the settings a Django process needs to use them."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django_qstash.devserver.process import stop_process, wait_until

SAMPLE_PROJECT = Path(__file__).resolve().parents[1]
MANAGE = SAMPLE_PROJECT / "manage.py"

#: Retry waits of the dev server, scaled: QStash's backoff (12 s, 148 s, ...) becomes 0.24 s,
#: 3 s, ..., slow enough to watch a retry happen and fast enough for a two-minute demo.
RETRY_SCALE = 0.02
#: One cron minute of the dev server lasts this many seconds during the tour.
CRON_TICK = 2.0


#: Ports handed out by reserved_port() and still held by this process, with their sockets.
_reserved: dict[int, socket.socket] = {}


def reserved_port() -> int:
    """A free port, kept bound by this process until :func:`release_port` (just before the
    server that listens on it starts): another tour starting at the same moment cannot be
    given it too while this one migrates its database."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    _reserved[port] = sock
    return port


def release_port(port: int) -> None:
    """Let a server listen on a port :func:`reserved_port` gave (no-op for any other port)."""
    sock = _reserved.pop(port, None)
    if sock is not None:
        sock.close()


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR as runserver and the dev
    server set it: connections of a server stopped a moment ago (TIME_WAIT) do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Server:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=SAMPLE_PROJECT,
                # Not in the terminal's process group: Ctrl-C reaches only the demo, which then
                # stops both servers in order (a server that died of the same Ctrl-C first would
                # read as a crash).
                start_new_session=True,
            )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the {self.name} exited with status {self.process.returncode}:\n{self.tail()}"
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


@dataclass
class Stack:
    """The two servers of the loop and the settings a Django process needs to use them."""

    workdir: Path
    database_url: str
    qstash_port: int
    django_port: int
    devserver_flags: list[str]
    qstash_db: Path
    servers: list[Server] = field(default_factory=list)
    qstash_url: str = ""
    token: str = ""
    current_key: str = ""
    next_key: str = ""

    @property
    def django_url(self) -> str:
        return f"http://127.0.0.1:{self.django_port}"

    def django_env(self) -> dict[str, str]:
        """The sample project's settings (see .env.sample) pointing at these two servers."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "DJANGO_SETTINGS_MODULE" and not key.startswith("PYTEST_")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="cfehome.settings",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.database_url,
            QSTASH_URL=self.qstash_url or f"http://127.0.0.1:{self.qstash_port}",
            DJANGO_QSTASH_DOMAIN=self.django_url,
            DJANGO_QSTASH_FORCE_HTTPS="0",
            DJANGO_QSTASH_ALWAYS_EAGER="0",
        )
        if self.token:
            env.update(
                QSTASH_TOKEN=self.token,
                QSTASH_CURRENT_SIGNING_KEY=self.current_key,
                QSTASH_NEXT_SIGNING_KEY=self.next_key,
            )
        return env

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env={**self.django_env(), **(env or {})},
            cwd=SAMPLE_PROJECT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            command = " ".join(args)
            raise RuntimeError(f"manage.py {command} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def start_devserver(self) -> None:
        log = self.workdir / "qstash-devserver.log"
        offset = log.stat().st_size if log.exists() else 0
        server = Server(
            "QStash dev server",
            [
                sys.executable,
                "-m",
                "django_qstash.devserver",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.qstash_port),
                "--db",
                str(self.qstash_db),
                *self.devserver_flags,
            ],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            log,
        )
        self.servers.append(server)
        release_port(self.qstash_port)
        server.start()

        def banner() -> str | None:
            server.check_alive()
            text = log.read_bytes()[offset:].decode(errors="replace")
            return text if "QSTASH_NEXT_SIGNING_KEY=" in text else None

        text = wait_until(banner, timeout=20, what="the QStash dev server to start")
        match = re.search(r"running at (http://\S+)", text)
        if match is None:
            raise RuntimeError(f"the dev server printed no address:\n{text}")
        self.qstash_url = match.group(1)
        self.token = _banner_value(text, "QSTASH_TOKEN")
        self.current_key = _banner_value(text, "QSTASH_CURRENT_SIGNING_KEY")
        self.next_key = _banner_value(text, "QSTASH_NEXT_SIGNING_KEY")

    def start_django(self, *, debug: bool) -> None:
        env = self.django_env()
        env["DJANGO_DEBUG"] = "1" if debug else "0"
        server = Server(
            "sample project",
            [
                sys.executable,
                str(MANAGE),
                "runserver",
                "--noreload",
                "--skip-checks",
                f"127.0.0.1:{self.django_port}",
            ],
            env,
            self.workdir / "django.log",
        )
        self.servers.append(server)
        release_port(self.django_port)
        server.start()

        def ready() -> bool:
            server.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.django_port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(ready, timeout=30, what=f"the sample project on {self.django_url}")

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ({s.log_path}) ---\n{s.tail()}" for s in self.servers)


def _banner_value(banner: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", banner, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{name} missing from the dev server's banner:\n{banner}")
    return match.group(1)


@contextmanager
def stopped_on_exit(stack: Stack) -> Iterator[Stack]:
    """Stop every server the stack started, however the block ends (Ctrl-C and SIGTERM too)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Ctrl-C must stop the servers even when this process was started with SIGINT ignored (as
    # a shell's background job is): Python then leaves it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield stack
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)


def setup_django(stack: Stack) -> None:
    """Configure this process as one more client of the sample project (same settings, same DB)."""
    os.environ.update(stack.django_env())
    if str(SAMPLE_PROJECT) not in sys.path:
        sys.path.insert(0, str(SAMPLE_PROJECT))
    import django

    django.setup()
