"""A gunicorn worker SIGKILLed while its task runs: in lock mode (the default on SQLite and
PostgreSQL) its locks die with it (the process's file locks, or its PostgreSQL session), so the
next delivery of the message runs the task, once, at once; in row mode the STARTED row holds the
message for the lease."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.reliability.conftest import (
    HOLD,
    SETTINGS,
    SETTINGS_ROW,
    Webhook,
    message,
    new_id,
    start_site,
)
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer, pg_create, pg_drop

pytestmark = pytest.mark.slow


def workers(server: DjangoServer) -> list[int]:
    """The pids of the gunicorn master's worker processes."""
    assert server.process is not None
    master = server.process.pid
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-row", marks=pytest.mark.postgres),
    ]
)
def one_worker_site(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[tuple[DjangoServer, str]]:
    options: dict[str, Any] = {"workers": 1}
    name = None
    if request.param.startswith("postgres"):
        template = request.getfixturevalue("migrated_template_pg")
        name = f"qstash_killed_{uuid.uuid4().hex[:12]}"
        options["database_url"] = pg_create(name, template)
    mode = "row" if request.param.endswith("-row") else "lock"
    server = start_site(
        tmp_path / "site",
        qstash_devserver,
        migrated_template_db,
        settings=SETTINGS_ROW if mode == "row" else SETTINGS,
        **options,
    )
    try:
        yield server, mode
    finally:
        server.stop()
        if name is not None:
            pg_drop(name)


def test_a_worker_killed_mid_task_leaves_the_message_to_the_next_delivery_which_runs_it_once(
    one_worker_site: tuple[DjangoServer, str], tmp_path: Path
):
    server, mode = one_worker_site
    hook = Webhook(server)
    key = new_id("killed")
    release = tmp_path / "release"
    body = message(HOLD, key, str(release))
    message_id = new_id()
    errors: list[BaseException] = []

    def first_delivery() -> None:
        try:
            hook.post(body, message_id=message_id)
        except httpx.HTTPError as exc:  # the worker died under it
            errors.append(exc)

    sender = threading.Thread(target=first_delivery)
    sender.start()
    try:
        wait_until(lambda: hook.runs(key, "hold_started") == 1, timeout=20, message="the task")
        (worker,) = workers(server)
        os.kill(worker, signal.SIGKILL)
        sender.join(30)
        assert errors, "the first delivery got no answer: its worker was killed"
        # The master starts a new worker.
        wait_until(lambda: workers(server) not in ([], [worker]), timeout=30, message="respawn")
        release.touch()

        # QStash delivers the message again (a new token, Upstash-Retried 1).
        answer = hook.post(body, message_id=message_id, retried=1)
        if mode == "row":
            # The dead worker's STARTED row holds the message for the lease (15 minutes).
            assert (answer.status_code, answer.json()["status"]) == (409, "in_progress")
            assert hook.results(message_id) == [("STARTED", 1)]
            assert hook.runs(key, "hold_started") == 1
            return
        assert (answer.status_code, answer.json()["status"]) == (200, "success"), answer.text
        # It ran once more: the killed run never finished, this one did, and nothing else runs.
        assert (hook.runs(key, "hold_started"), hook.runs(key, "hold_done")) == (2, 1)
        assert hook.results(message_id) == [("SUCCESS", 2)]
        again = hook.post(body, message_id=message_id, retried=2)
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        assert (hook.runs(key, "hold_started"), hook.runs(key, "hold_done")) == (2, 1)
    finally:
        release.touch()
        sender.join(30)
        hook.close()
