"""A live outbox site: the sample project plus ``django_qstash.outbox`` under gunicorn, its own
migrated database (SQLite or PostgreSQL), and helpers that run a view's work, the drain command
and Django's checks in processes of their own with the site's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.devserver import DevServerProcess
from tests.support.liveserver import (
    SAMPLE_PROJECT,
    DjangoServer,
    base_env,
    pg_create,
    pg_drop,
)

SETTINGS = "tests.outbox.server_settings"


def site_env(database: Path | str) -> dict[str, str]:
    return {**base_env(database), "DJANGO_SETTINGS_MODULE": SETTINGS}


def run_manage(
    database: Path | str, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SAMPLE_PROJECT / "manage.py"), *args],
        env={**site_env(database), **(env or {})},
        cwd=SAMPLE_PROJECT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def migrate(database: Path | str) -> None:
    result = run_manage(database, "migrate", "--no-input", "-v", "0")
    if result.returncode:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")


class OutboxSite:
    """A running outbox site and the processes that work on its database."""

    def __init__(self, server: DjangoServer) -> None:
        self.server = server
        self.devserver = server.devserver
        # Read once: the dev server's keys cannot be asked for while a test has it stopped.
        self._env = server.env()

    def env(self, **overrides: str) -> dict[str, str]:
        return {**self._env, **overrides}

    def enqueue(
        self, key: str, count: int, *flags: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """``tests.outbox.enqueue`` in its own process; its result (not checked here)."""
        return subprocess.run(
            [sys.executable, "-m", "tests.outbox.enqueue", key, str(count), *flags],
            env=self.env(**env),
            cwd=SAMPLE_PROJECT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def manage(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SAMPLE_PROJECT / "manage.py"), *args],
            env=self.env(**env),
            cwd=SAMPLE_PROJECT,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def drainer(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(SAMPLE_PROJECT / "manage.py"), "drain_outbox", *args],
            env=self.env(**env),
            cwd=SAMPLE_PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def pending(self) -> int:
        rows = self.server.query(
            "SELECT count(*) FROM django_qstash_outbox_outboxmessage WHERE published_at IS NULL"
        )
        return int(rows[0][0])

    def outbox_rows(self) -> list[tuple[Any, ...]]:
        return self.server.query(
            "SELECT id, attempts, last_error, published_at, deduplication_id "
            "FROM django_qstash_outbox_outboxmessage ORDER BY id"
        )

    def created_messages(self) -> list[dict[str, Any]]:
        """The dev server's messages to this site's webhook (one CREATED event each)."""
        return self.devserver.events(state="CREATED", url=self.server.webhook_url, count=10_000)


OutboxSiteFactory = Callable[..., OutboxSite]


@pytest.fixture(scope="session")
def outbox_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    database = tmp_path_factory.mktemp("outbox-db") / "template.sqlite3"
    migrate(database)
    return database


@pytest.fixture
def outbox_site_factory(
    tmp_path: Path, outbox_template_db: Path, qstash_devserver: DevServerProcess
) -> Iterator[OutboxSiteFactory]:
    started: list[DjangoServer] = []
    databases: list[str] = []

    def start(
        devserver: DevServerProcess | None = None,
        *,
        database: str = "sqlite",
        env: dict[str, str] | None = None,
    ) -> OutboxSite:
        options: dict[str, Any] = {}
        if database == "postgres":
            name = f"qstash_outbox_{os.getpid()}_{len(databases)}"
            databases.append(name)
            url = pg_create(name)
            migrate(url)
            options["database_url"] = url
        else:
            options["template_db"] = outbox_template_db
        server = DjangoServer(
            tmp_path / f"outbox-site-{len(started)}",
            devserver or qstash_devserver,
            env={"DJANGO_SETTINGS_MODULE": SETTINGS, **(env or {})},
            **options,
        )
        started.append(server)
        return OutboxSite(server.start())

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for name in databases:
            pg_drop(name)
