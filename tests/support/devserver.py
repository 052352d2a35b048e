"""The dev server as a real subprocess, for tests that need a QStash peer on loopback.

Fixtures:

* ``qstash_devserver`` (session): one shared server, ``--fast-retries --cron-tick 1`` (retry
  waits x0.001; a cron minute lasts 1 s), a temp ``--db``, a free port. Do not rotate its keys
  or pause its queues for good: other tests share it.
* ``devserver_factory`` (function): ``devserver_factory(*extra_flags, fast_retries=True,
  cron_tick=None)`` starts a private server (stopped at teardown), for persistence, key
  rotation and anything that changes global state.

A :class:`DevServerProcess` has ``.url``, ``.token``, ``.current_key``/``.next_key`` (read live
from ``GET /v2/keys``), ``.client()`` (an official ``qstash.QStash`` for it), ``.env()`` (the
settings a Django process needs), and ``.stop()`` / ``.kill()`` (SIGKILL) / ``.start()`` (same
port and database, so state survives), plus ``.log()`` for failure messages.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from django_qstash.devserver import process

T = TypeVar("T")

READY = re.compile(r"running at (http://\S+)")
START_TIMEOUT = 20.0


def wait_until(
    probe: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.02, message: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; return that, or fail the test."""
    try:
        return process.wait_until(
            probe, timeout=timeout, interval=interval, what=message or repr(probe)
        )
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


class DevServerProcess:
    def __init__(self, workdir: Path, args: tuple[str, ...] = ()) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.db = workdir / "qstash-dev.db"
        self.log_path = workdir / "devserver.log"
        self.args = tuple(args)
        self.port = 0
        self.url = ""
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> DevServerProcess:
        assert self.process is None, "already running"
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        command = [
            sys.executable,
            "-m",
            "django_qstash.devserver",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
            )

        def ready() -> str | None:
            text = self.log_path.read_bytes()[offset:].decode(errors="replace")
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the dev server exited ({self.process.returncode}):\n{text}")
            if "QSTASH_NEXT_SIGNING_KEY=" not in text:
                return None
            return text

        banner = wait_until(ready, timeout=START_TIMEOUT, message="the dev server to start")
        match = READY.search(banner)
        assert match is not None, banner
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        self.token = _value(banner, "QSTASH_TOKEN")
        return self

    def _signal(self, sig: int, timeout: float) -> int:
        process = self.process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(sig)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        self.process = None
        if self._http is not None:
            self._http.close()
            self._http = None
        return code

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: the exit status (0 when it stopped cleanly)."""
        return self._signal(signal.SIGTERM, timeout)

    def kill(self) -> int:
        """SIGKILL: no chance to clean up (what persistence must survive)."""
        return self._signal(signal.SIGKILL, 10.0)

    def restart(self) -> DevServerProcess:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---------------------------------------------------------------- talking to it

    @property
    def http(self) -> httpx.Client:
        """A raw HTTP client with the bearer token (for what the SDK does not expose)."""
        if self._http is None:
            self._http = httpx.Client(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.token}"},
                trust_env=False,
                timeout=10,
            )
        return self._http

    def keys(self) -> dict[str, str]:
        response = self.http.get("/v2/keys")
        response.raise_for_status()
        return dict(response.json())

    @property
    def current_key(self) -> str:
        return self.keys()["current"]

    @property
    def next_key(self) -> str:
        return self.keys()["next"]

    def client(self) -> Any:
        """The official SDK, unchanged, pointed at this server (no SDK-side retries)."""
        from qstash import QStash

        return QStash(self.token, base_url=self.url, retry=False)

    def env(self) -> dict[str, str]:
        """The settings (as environment variables) a Django process needs to use this server."""
        keys = self.keys()
        return {
            "QSTASH_URL": self.url,
            "QSTASH_TOKEN": self.token,
            "QSTASH_CURRENT_SIGNING_KEY": keys["current"],
            "QSTASH_NEXT_SIGNING_KEY": keys["next"],
        }

    def events(self, **params: Any) -> list[dict[str, Any]]:
        response = self.http.get("/v2/events", params=params)
        response.raise_for_status()
        return list(response.json()["events"])

    def dlq(self, **params: Any) -> list[dict[str, Any]]:
        response = self.http.get("/v2/dlq", params=params)
        response.raise_for_status()
        return list(response.json()["messages"])

    def message_states(self, message_id: str) -> list[str]:
        """The message's log states, oldest first."""
        return [e["state"] for e in reversed(self.events(messageId=message_id))]


def _value(banner: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", banner, re.MULTILINE)
    assert match is not None, f"{name} missing from the banner:\n{banner}"
    return match.group(1)


def _flags(fast_retries: bool, cron_tick: float | None, extra: tuple[str, ...]) -> tuple[str, ...]:
    flags = list(extra)
    if fast_retries:
        flags.append("--fast-retries")
    if cron_tick:
        flags += ["--cron-tick", str(cron_tick)]
    return tuple(flags)


@pytest.fixture(scope="session")
def qstash_devserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServerProcess]:
    """One dev server for the session: fast retries, a 1 s cron minute, a temp database."""
    server = DevServerProcess(
        tmp_path_factory.mktemp("qstash-devserver"), _flags(True, 1, ("--quiet",))
    ).start()
    try:
        yield server
    finally:
        server.stop()


DevServerFactory = Callable[..., DevServerProcess]


@pytest.fixture
def devserver_factory(tmp_path: Path) -> Iterator[DevServerFactory]:
    """Private dev servers: ``devserver_factory(*flags, fast_retries=True, cron_tick=None)``."""
    started: list[DevServerProcess] = []

    def start(
        *extra: str, fast_retries: bool = True, cron_tick: float | None = None
    ) -> DevServerProcess:
        server = DevServerProcess(
            tmp_path / f"devserver-{len(started)}", _flags(fast_retries, cron_tick, extra)
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
