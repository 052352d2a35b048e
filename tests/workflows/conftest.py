"""A live Django server serving the test workflows (``tests.apps.workflowapp``) and the sample
project's, on the session's dev server; this process triggers runs through the same settings."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer

SERVER_SETTINGS = "tests.workflows.server_settings"


def workflow_server(workdir: Path, devserver: DevServerProcess, template_db: Path) -> DjangoServer:
    server = DjangoServer(
        workdir, devserver, template_db=template_db, env={"DJANGO_SETTINGS_MODULE": SERVER_SETTINGS}
    )
    # What the SDK's Flask examples read from context.env to reach their own app.
    server.extra_env["UPSTASH_WORKFLOW_URL"] = server.url
    return server.start()


@pytest.fixture(scope="module")
def wf_server(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServer]:
    server = workflow_server(
        tmp_path_factory.mktemp("workflow-server"), qstash_devserver, migrated_template_db
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def via(wf_server: DjangoServer, publish_via: Callable[[DjangoServer], None]) -> DjangoServer:
    """This process's settings point at the dev server and ``wf_server``: ``trigger()`` works."""
    publish_via(wf_server)
    return wf_server


@pytest.fixture
def key() -> str:
    return uuid.uuid4().hex[:12]


def steps(server: DjangoServer, key: str) -> dict[str, int]:
    """How often each step's side effect happened for ``key``."""
    counts: dict[str, int] = {}
    for run in server.task_runs(key=key):
        if run["task"].startswith("wf:"):
            counts[run["task"][3:]] = counts.get(run["task"][3:], 0) + 1
    return counts


def run_log(devserver: DevServerProcess, run_id: str) -> dict[str, Any]:
    response = devserver.http.get("/v2/workflows/logs", params={"workflowRunId": run_id})
    response.raise_for_status()
    runs = response.json()["runs"]
    assert len(runs) == 1, runs
    return dict(runs[0])


def wait_for_state(
    server: DjangoServer, run_id: str, state: str, timeout: float = 30
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        run = run_log(server.devserver, run_id)
        return run if run["workflowState"] == state else None

    try:
        return wait_until(probe, timeout=timeout, message=f"run {run_id} in state {state}")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nrun: {run_log(server.devserver, run_id)}"
            f"\n--- django server log ---\n{server.log()[-6000:]}"
            f"\n--- dev server log ---\n{server.devserver.log()[-3000:]}"
        ) from None


class ThirdParty:
    """A loopback HTTP server standing for a third-party API: answers every POST with
    ``status`` and a JSON body echoing what it received."""

    def __init__(self, status: int = 201) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = json.loads(self.rfile.read(length) or b"null")
                owner.received.append(received)
                body = json.dumps({"echo": received, "answer": "from the third party"}).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Third-Party", "yes")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def third_party() -> Iterator[ThirdParty]:
    server = ThirdParty()
    try:
        yield server
    finally:
        server.close()
