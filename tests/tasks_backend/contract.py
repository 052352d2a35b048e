"""One fixture, ``contract``, that runs a test on Django's ImmediateBackend and on QStashBackend.

The QStash side is live: a message is published to the dev server, which delivers it to the test
settings' project under gunicorn with two workers, which runs the task and writes the results
app's row into the test database; the test reads it back through ``get_result``/``refresh``, as
Django's own backend tests read theirs. Both sides run one attempt per task (QStash's
``max_retries`` is 0), as the ImmediateBackend does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from django_qstash.tasks_compat import FRAMEWORK, TaskResultDoesNotExist
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer

IMMEDIATE = (
    "django.tasks.backends.immediate.ImmediateBackend"
    if FRAMEWORK == "django.tasks"
    else "django_tasks.backends.immediate.ImmediateBackend"
)
QUEUES = ["default", "emails"]
SETTLE_TIMEOUT = 20.0


def child_pids(parent: int) -> set[int]:
    """The processes whose parent is ``parent`` (gunicorn's workers, for its master)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            children.add(int(entry.name))
    return children


@dataclass
class Contract:
    """How a test enqueues and waits, whichever backend runs the task."""

    name: str
    server: DjangoServer | None = None

    @property
    def is_live(self) -> bool:
        return self.server is not None

    def settle(self, result: Any) -> Any:
        """Wait until ``result`` is finished (``refresh()`` on a backend that stores results)."""
        if self.server is None:
            assert result.is_finished, "ImmediateBackend returns finished results"
            return result

        def finished() -> bool:
            try:
                result.refresh()
            except TaskResultDoesNotExist:  # not delivered yet
                return False
            return bool(result.is_finished)

        try:
            wait_until(finished, timeout=SETTLE_TIMEOUT, message=f"result {result.id} to finish")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- gunicorn log ---\n{self.server.log()[-4000:]}"
                f"\n--- dev server log ---\n{self.server.devserver.log()[-3000:]}"
            ) from None
        return result

    def workers(self) -> set[int]:
        """The processes that run tasks: gunicorn's workers, or this very process."""
        if self.server is None:
            return {os.getpid()}
        assert self.server.process is not None
        return child_pids(self.server.process.pid)


@pytest.fixture(scope="module")
def contract_server(
    tmp_path_factory: pytest.TempPathFactory,
    qstash_devserver: DevServerProcess,
    django_db_setup: None,
    django_db_blocker: Any,
) -> Iterator[DjangoServer]:
    """The test settings' project under gunicorn (2 workers), on the test database itself, so
    rows it writes are what ``get_result`` reads here."""
    if connection.vendor != "sqlite":
        pytest.skip("the live contract server shares the SQLite test database")
    with django_db_blocker.unblock():
        name = str(connection.settings_dict["NAME"])
    server = DjangoServer(
        tmp_path_factory.mktemp("contract-server"),
        qstash_devserver,
        workers=2,
        threads=2,
        database_url=f"sqlite:///{name}",
        env={"DJANGO_SETTINGS_MODULE": "tests.settings"},
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["immediate", "qstash"])
def contract(
    request: pytest.FixtureRequest, publish_via: Callable[[DjangoServer], None]
) -> Iterator[Contract]:
    """Runs the test once per backend. Tests that use it need
    ``pytest.mark.django_db(transaction=True)``: the live server must see committed rows."""
    if request.param == "immediate":
        with override_settings(TASKS={"default": {"BACKEND": IMMEDIATE, "QUEUES": QUEUES}}):
            yield Contract("immediate")
        return
    server = request.getfixturevalue("contract_server")
    if server.process is None or server.process.poll() is not None:
        server.start()  # an earlier test's failure took it down: start it again, same database
    publish_via(server)
    tasks = {
        "default": {
            "BACKEND": "django_qstash.backends.QStashBackend",
            "QUEUES": QUEUES,
            # One attempt, as the ImmediateBackend makes: a failure is final at once.
            "OPTIONS": {"max_retries": 0},
        }
    }
    with override_settings(TASKS=tasks):
        yield Contract("qstash", server)
