"""Live-HTTP helpers for the reliability tests: the sample project under gunicorn, reached only
over loopback HTTP, as QStash (or an attacker) reaches it.

``site`` (module) is the sample project plus ``tests.reliability.liveapp`` on SQLite, delivered to
by the session's dev server. A :class:`Webhook` signs and posts deliveries to such a server and
counts their side effects (``example_taskrun`` rows) and stored results in its database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_qstash import hooks
from tests.support.devserver import DevServerProcess
from tests.support.liveserver import DjangoServer, pg_create, pg_drop
from tests.support.signing import make_token

SETTINGS = "tests.reliability.server_settings"
SETTINGS_CORE_ONLY = "tests.reliability.server_settings_core"
SETTINGS_ROW = "tests.reliability.server_settings_row"
HOLD = "tests.reliability.liveapp.tasks.hold"
RECORD = "example.tasks.record"
FAIL_UNTIL = "example.tasks.fail_until"


def new_id(prefix: str = "msg") -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def message(task: str, *args: Any, **kwargs: Any) -> bytes:
    return hooks.build_message(task, args, kwargs)


class Webhook:
    """Signed (or forged) POSTs to one live server's webhook, and what they left behind."""

    def __init__(self, server: DjangoServer) -> None:
        self.server = server
        self.url = server.webhook_url
        keys = server.devserver.keys()
        self.current_key, self.next_key = keys["current"], keys["next"]
        self.http = httpx.Client(trust_env=False, timeout=60)

    def close(self) -> None:
        self.http.close()

    def token(self, body: bytes, url: str | None = None, /, **overrides: Any) -> str:
        overrides.setdefault("key", self.current_key)
        return make_token(body, url or self.url, **overrides)

    def post(
        self,
        body: bytes,
        *,
        token: str | None = None,
        message_id: str | None = None,
        retried: int = 0,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        sent = {"Content-Type": content_type, "Upstash-Retried": str(retried)}
        sent["Upstash-Message-Id"] = message_id or new_id()
        if sign:
            sent["Upstash-Signature"] = token or self.token(body)
        sent.update(headers or {})
        return self.http.post(self.url, content=body, headers=sent)

    # ---------------------------------------------------------------- what it left behind

    def runs(self, key: str, task: str | None = None) -> int:
        sql = "SELECT count(*) FROM example_taskrun WHERE key = ?"
        params: tuple[Any, ...] = (key,)
        if task is not None:
            sql += " AND task = ?"
            params += (task,)
        return int(self.server.query(sql, params)[0][0])

    def total_runs(self) -> int:
        return int(self.server.query("SELECT count(*) FROM example_taskrun")[0][0])

    def results(self, message_id: str) -> list[tuple[Any, ...]]:
        return self.server.query(
            "SELECT status, attempts FROM django_qstash_results_taskresult WHERE task_id = ?",
            (message_id,),
        )

    def total_results(self) -> int:
        return int(self.server.query("SELECT count(*) FROM django_qstash_results_taskresult")[0][0])


def assert_refused(response: httpx.Response, status: int, reason: str) -> dict[str, Any]:
    """The answer is ``status`` with the webhook's small JSON body saying ``reason``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/json", response.headers
    body = response.json()
    assert body["status"] == reason, body
    if status == 489:
        assert response.headers["Upstash-NonRetryable-Error"] == "true"
    else:
        assert "Upstash-NonRetryable-Error" not in response.headers
    return dict(body)


def start_site(
    workdir: Path,
    devserver: DevServerProcess,
    template_db: Path,
    *,
    settings: str = SETTINGS,
    **options: Any,
) -> DjangoServer:
    env = {"DJANGO_SETTINGS_MODULE": settings, **options.pop("env", {})}
    return DjangoServer(workdir, devserver, template_db=template_db, env=env, **options).start()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServer]:
    """The sample project (+ liveapp) under gunicorn on SQLite, results app installed."""
    server = start_site(tmp_path_factory.mktemp("site"), qstash_devserver, migrated_template_db)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def webhook(site: DjangoServer) -> Iterator[Webhook]:
    hook = Webhook(site)
    try:
        yield hook
    finally:
        hook.close()


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-row", marks=pytest.mark.postgres),
    ],
)
def multi_site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServer]:
    """The sample project (+ liveapp) under gunicorn with 4 worker processes, results app
    installed: on SQLite (lock claim mode: file locks), and in the ``postgres`` run on
    PostgreSQL in lock mode (advisory locks, the default there) and in row mode."""
    options: dict[str, Any] = {"workers": 4}
    name = None
    if request.param == "postgres-row":
        options["settings"] = SETTINGS_ROW
    if request.param.startswith("postgres"):
        template = request.getfixturevalue("migrated_template_pg")
        name = f"qstash_reliability_{uuid.uuid4().hex[:12]}"
        options["database_url"] = pg_create(name, template)
    server = start_site(
        tmp_path_factory.mktemp("multi-site"), qstash_devserver, migrated_template_db, **options
    )
    try:
        yield server
    finally:
        server.stop()
        if name is not None:
            pg_drop(name)
