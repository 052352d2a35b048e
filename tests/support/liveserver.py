"""The sample project as a real server process (gunicorn or runserver) on a free loopback port.

Fixtures:

* ``django_server_factory`` (function): ``django_server_factory(devserver, workers=1,
  server="gunicorn", env={...}, database="sqlite")`` (``server="uvicorn"``: one ASGI worker,
  ``asgi_app=`` to serve another application than ``cfehome.asgi``) starts ``sample_project`` with ``QSTASH_*``
  pointing at the dev server, ``DJANGO_QSTASH_DOMAIN`` at itself and a fresh, already migrated
  database; it is stopped at teardown. ``database="postgres"`` gives it a fresh PostgreSQL
  database instead (a copy of one migrated per session, on the server of ``DATABASE_URL`` or
  127.0.0.1:5432; dropped at teardown): use it in ``postgres``-marked tests.
* ``django_server`` (module): one such server (gunicorn, 1 worker, 4 threads) for the module,
  talking to the session's ``qstash_devserver``.
* ``publish_via`` (function): ``publish_via(django_server)`` points this test process's
  settings (``QSTASH_URL``, token, ``DJANGO_QSTASH_DOMAIN``) at the dev server and that server,
  so ``task.delay()`` here is delivered there. Tests that publish need database access
  (``@pytest.mark.django_db``) when a result store is installed.

A :class:`DjangoServer` has ``.url``, ``.webhook_url``, ``.query(sql, params)`` (stdlib
sqlite3 on its database, or psycopg on PostgreSQL; write ``?`` placeholders either way), ``.task_runs(task=None, key=None)`` (rows of
``example.models.TaskRun``), ``.wait_for_runs(count, ...)`` and ``.log()``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_qstash.devserver.process import free_port, stop_process
from tests.support.devserver import DevServerProcess, wait_until

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PROJECT = ROOT / "sample_project"
START_TIMEOUT = 30.0


def database_url(database: Path | str) -> str:
    """A SQLite file path, or a database URL as it is."""
    return database if isinstance(database, str) else f"sqlite:///{database}"


def base_env(database: Path | str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # The pytest process's settings module and test-only variables must not leak in.
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_")) and key not in ("DATABASE_URL",)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="cfehome.settings",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SAMPLE_PROJECT), str(ROOT)])),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url(database),
        DJANGO_QSTASH_FORCE_HTTPS="False",
        DJANGO_DEBUG="False",
        # The sample project's default is on (for its users); the suite's servers keep it off.
        DJANGO_QSTASH_RESULTS_STORE_PENDING="False",
    )
    return env


def migrate(database: Path | str) -> None:
    """Migrate the sample project's database: a SQLite file, or a database URL."""
    result = subprocess.run(
        [sys.executable, str(SAMPLE_PROJECT / "manage.py"), "migrate", "--no-input", "-v", "0"],
        env=base_env(database),
        cwd=SAMPLE_PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode:
        raise RuntimeError(f"migrate failed:\n{result.stdout}\n{result.stderr}")


# ---------------------------------------------------------------- PostgreSQL databases

PG_DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/test"


def pg_server_url() -> str:
    """The PostgreSQL server the tests use: that of ``DATABASE_URL``, or the local one."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else PG_DEFAULT_URL


def pg_url(name: str) -> str:
    """The URL of database ``name`` on the tests' PostgreSQL server."""
    base = pg_server_url()
    return base[: base.rfind("/") + 1] + name


def pg_admin(*statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE) on the tests' server."""
    import psycopg

    with psycopg.connect(pg_server_url(), autocommit=True) as admin:
        for statement in statements:
            admin.execute(statement)  # type: ignore[arg-type]


def pg_create(name: str, template: str | None = None) -> str:
    """A new, empty (or copied from ``template``) database; its URL."""
    suffix = f' TEMPLATE "{template}"' if template else ""
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"{suffix}')
    return pg_url(name)


def pg_drop(name: str) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DjangoServer:
    def __init__(
        self,
        workdir: Path,
        devserver: DevServerProcess,
        *,
        template_db: Path | None = None,
        server: str = "gunicorn",
        workers: int = 1,
        threads: int = 4,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
        asgi_app: str = "cfehome.asgi:application",
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.devserver = devserver
        #: The SQLite file, or (``database_url`` given: an already migrated database) its URL.
        self.database: Path | str
        if database_url is not None:
            self.database = database_url
        else:
            self.database = workdir / "db.sqlite3"
            if template_db is not None:
                shutil.copyfile(template_db, self.database)
            else:
                migrate(self.database)
        self.kind = server
        self.asgi_app = asgi_app
        self.workers = workers
        self.threads = threads
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{server}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/qstash/webhook/"

    def env(self) -> dict[str, str]:
        env = base_env(self.database)
        env.update(self.devserver.env())
        env["DJANGO_QSTASH_DOMAIN"] = self.url
        env["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        if self.kind == "uvicorn":
            # One worker, one event loop; ``asgi_app`` may wrap the project's (a probe).
            return [
                sys.executable,
                "-m",
                "uvicorn",
                self.asgi_app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--loop",
                "asyncio",
                "--log-level",
                "warning",
            ]
        if self.kind == "runserver":
            command = [sys.executable, str(SAMPLE_PROJECT / "manage.py"), "runserver"]
            command += ["--noreload", "--skip-checks", f"127.0.0.1:{self.port}"]
            if self.threads <= 1:
                command.append("--nothreading")
            return command
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "cfehome.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--threads",
            str(self.threads),
            "--graceful-timeout",
            "1",
            "--timeout",
            "60",
        ]

    def start(self) -> DjangoServer:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=SAMPLE_PROJECT,
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the Django server exited:\n{self.log()}")
            try:
                httpx.get(self.url + "/admin/login/", timeout=1.0, trust_env=False)
            except httpx.HTTPError:
                return False
            return True

        wait_until(ready, timeout=START_TIMEOUT, message=f"{self.kind} on {self.url}")
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---------------------------------------------------------------- its database

    @property
    def vendor(self) -> str:
        return "postgresql" if isinstance(self.database, str) else "sqlite"

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if isinstance(self.database, str):
            import psycopg

            with psycopg.connect(self.database, autocommit=True) as pg:
                cursor = pg.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]
                return cursor.fetchall() if cursor.description else []
        connection = sqlite3.connect(self.database, timeout=10)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def task_runs(self, task: str | None = None, key: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT task, key, value, created FROM example_taskrun WHERE 1=1"
        params: list[Any] = []
        if task is not None:
            sql += " AND task = ?"
            params.append(task)
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        rows = self.query(sql + " ORDER BY id", tuple(params))
        return [
            {
                "task": row[0],
                "key": row[1],
                "value": json.loads(row[2]) if isinstance(row[2], str) else row[2],
                "created": row[3],
            }
            for row in rows
        ]

    def wait_for_runs(
        self, count: int, *, task: str | None = None, key: str | None = None, timeout: float = 20
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` TaskRun rows match; return them."""

        def probe() -> list[dict[str, Any]] | None:
            runs = self.task_runs(task, key)
            return runs if len(runs) >= count else None

        try:
            return wait_until(probe, timeout=timeout, message=f"{count} run(s) of {task} {key}")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n--- django server log ---\n{self.log()[-4000:]}"
                f"\n--- dev server log ---\n{self.devserver.log()[-4000:]}"
            ) from None


@pytest.fixture(scope="session")
def migrated_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample project's migrated SQLite database, made once and copied per server."""
    database = tmp_path_factory.mktemp("sample-db") / "template.sqlite3"
    migrate(database)
    return database


DjangoServerFactory = Callable[..., DjangoServer]


@pytest.fixture(scope="session")
def migrated_template_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a migrated PostgreSQL database of the sample project, made once per session
    (only when a test asks for ``database="postgres"``) and copied per server."""
    name = f"qstash_live_template_{os.getpid()}"
    migrate(pg_create(name))
    try:
        yield name
    finally:
        pg_drop(name)


@pytest.fixture
def django_server_factory(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServerFactory]:
    started: list[DjangoServer] = []
    databases: list[str] = []

    def start(
        devserver: DevServerProcess | None = None, *, database: str = "sqlite", **options: Any
    ) -> DjangoServer:
        if database == "postgres":
            template = request.getfixturevalue("migrated_template_pg")
            name = f"qstash_live_{os.getpid()}_{len(databases)}"
            databases.append(name)
            options["database_url"] = pg_create(name, template)
        elif database != "sqlite":
            raise ValueError(f"database must be 'sqlite' or 'postgres', not {database!r}")
        server = DjangoServer(
            tmp_path / f"django-{len(started)}",
            devserver or qstash_devserver,
            template_db=migrated_template_db,
            **options,
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for name in databases:
            pg_drop(name)


@pytest.fixture(scope="module")
def django_server(
    tmp_path_factory: pytest.TempPathFactory,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[DjangoServer]:
    """The sample project under gunicorn (1 worker, 4 threads) on the session's dev server."""
    server = DjangoServer(
        tmp_path_factory.mktemp("django-server"),
        qstash_devserver,
        template_db=migrated_template_db,
    ).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def publish_via() -> Iterator[Callable[[DjangoServer], None]]:
    """``publish_via(server)``: ``.delay()`` in this process publishes to that server's webhook."""
    from django.test import override_settings

    active: list[Any] = []

    def point(server: DjangoServer) -> None:
        keys = server.devserver.keys()
        override = override_settings(
            QSTASH_URL=server.devserver.url,
            QSTASH_TOKEN=server.devserver.token,
            QSTASH_CURRENT_SIGNING_KEY=keys["current"],
            QSTASH_NEXT_SIGNING_KEY=keys["next"],
            DJANGO_QSTASH_DOMAIN=server.url,
            DJANGO_QSTASH_FORCE_HTTPS=False,
            DJANGO_QSTASH_ALWAYS_EAGER=False,
        )
        override.enable()
        active.append(override)

    try:
        yield point
    finally:
        for override in reversed(active):
            override.disable()
