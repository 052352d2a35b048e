"""Under ASGI (uvicorn) an async workflow's view runs on the server's event loop, a sync one in
Django's thread: both complete a run with each step once."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from django_qstash.workflows import get_workflow
from tests.support.devserver import DevServerProcess
from tests.support.liveserver import DjangoServer
from tests.workflows.conftest import SERVER_SETTINGS, steps, wait_for_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


class UvicornServer(DjangoServer):
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "cfehome.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
        ]


@pytest.fixture(scope="module")
def asgi_server(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServer]:
    server = UvicornServer(
        tmp_path_factory.mktemp("workflow-asgi"),
        qstash_devserver,
        template_db=migrated_template_db,
        server="uvicorn",
        env={"DJANGO_SETTINGS_MODULE": SERVER_SETTINGS},
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("name", ["tests.scenario_async", "tests.scenario"])
def test_a_run_completes_under_asgi(
    asgi_server: DjangoServer,
    publish_via: Callable[[DjangoServer], None],
    key: str,
    name: str,
) -> None:
    publish_via(asgi_server)
    run_id = get_workflow(name).trigger({"key": key, "fail_times": 1, "sleep": 1})
    wait_for_state(asgi_server, run_id, "RUN_SUCCESS")
    assert steps(asgi_server, key) == {"step1": 1, "step2-attempt": 2, "step2": 1, "step3": 1}
