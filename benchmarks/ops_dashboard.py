"""The operations dashboard and ``qstash_metrics`` on 1,000,000 task results.

For each database (SQLite, a file in its default modes; PostgreSQL, a scratch database created
and dropped on the server of BENCH_POSTGRES_URL, default ``postgres://postgres@127.0.0.1:5432/
test``, skipped when it cannot be reached) a child process migrates, fills ``TaskResult`` with
ROWS rows spread over the last 30 days and 50 task names (executemany on SQLite, COPY on
PostgreSQL), runs ANALYZE (VACUUM ANALYZE on PostgreSQL, the state autovacuum keeps a table in),
then times, as medians of ROUNDS runs after a warm-up:

* the dashboard page (``GET /admin/django_qstash_results/taskdashboard/?window=...``) for the
  1h, 24h and 7d windows, through Django's test client with a logged-in superuser;
* ``manage.py qstash_metrics --since 7d --json``;
* the baseline, measured in the same run: the admin index page, i.e. what any admin page of this
  site costs. The table shows each time and its ratio to that baseline.

The goal is under 300 ms for the page on both databases.

Usage: python -m benchmarks.ops_dashboard [--rows N] [--rounds N] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TABLE = "django_qstash_results_taskresult"
COLUMNS = (
    "task_id",
    "request_id",
    "task_name",
    "status",
    "args",
    "kwargs",
    "result",
    "result_is_repr",
    "exception_type",
    "exception_message",
    "traceback",
    "attempts",
    "republished",
    "schedule_id",
    "date_created",
    "date_started",
    "date_done",
    "duration",
    "attempt_errors",
)
TASKS = [f"app{n % 5}.tasks.task_{n:02d}" for n in range(50)]
DAYS = 30
CHUNK = 50_000
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/tasks.py", line 12, in run\n'
    "    response.raise_for_status()\n"
    "RuntimeError: the partner API answered 503"
)


# ------------------------------------------------------------------------------ the rows


def _status(draw: float) -> str:
    if draw < 0.90:
        return "SUCCESS"
    if draw < 0.95:
        return "FAILURE"
    if draw < 0.98:
        return "RETRY"
    return "PENDING" if draw < 0.99 else "STARTED"


def rows(count: int, now: datetime.datetime) -> Iterator[tuple[Any, ...]]:
    """``count`` rows spread evenly (with jitter) over the last DAYS days, newest last."""
    rng = random.Random(42)
    span = DAYS * 86400
    for n in range(count):
        created = now - datetime.timedelta(seconds=span * (1 - n / count) + rng.random())
        status = _status(rng.random())
        duration = None if status in ("PENDING", "STARTED") else rng.lognormvariate(-4, 1.2)
        done = created + datetime.timedelta(seconds=duration) if duration is not None else None
        failed = status in ("FAILURE", "RETRY")
        attempts = 0 if status == "PENDING" else 1 + (rng.random() < 0.08) + (rng.random() < 0.02)
        yield (
            f"msg_{n:012d}",
            "",
            TASKS[rng.randrange(len(TASKS))],
            status,
            "[1, 2]",
            "{}",
            None if failed or duration is None else "42",
            False,
            "builtins.RuntimeError" if failed else "",
            "the partner API answered 503" if failed else "",
            TRACEBACK if failed else "",
            attempts,
            False,
            "",
            created,
            None if status == "PENDING" else created,
            done,
            duration,
            "[]",
        )


# ------------------------------------------------------------------------------ the child


def _configure(database: dict[str, Any]) -> None:
    from django.conf import settings

    settings.configure(
        SECRET_KEY="benchmark",
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DATABASES={"default": database},
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_qstash",
            "django_qstash.results",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        ROOT_URLCONF="benchmarks.urls_admin",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        LOGGING_CONFIG=None,
        QSTASH_TOKEN="benchmark",
        DJANGO_QSTASH_DOMAIN="http://127.0.0.1:8000",
    )
    import django

    django.setup()


def _fill(count: int) -> float:
    from django.db import connection, transaction

    now = datetime.datetime.now(datetime.timezone.utc)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: COPY
            with raw.copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(count, now):
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(COLUMNS))
            sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})"
            batch: list[tuple[Any, ...]] = []
            for row in rows(count, now):
                batch.append(_sqlite_row(row))
                if len(batch) == CHUNK:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    with connection.cursor() as cursor:
        # As autovacuum leaves a table in steady state: PostgreSQL's visibility map set, so
        # counts can be answered from the indexes alone (index-only scans).
        postgres = connection.vendor == "postgresql"
        cursor.execute(f"VACUUM ANALYZE {TABLE}" if postgres else "ANALYZE")
    return time.perf_counter() - started


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Django's SQLite format for datetimes: naive UTC text.
    return tuple(
        v.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat(" ")
        if isinstance(v, datetime.datetime)
        else v
        for v in row
    )


def _median_ms(func: Any, rounds: int) -> float:
    func()  # warm-up: template loading, query plans, caches
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def child(database: dict[str, Any], count: int, rounds: int) -> dict[str, Any]:
    _configure(database)
    from io import StringIO

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    fill_seconds = _fill(count)
    user = User.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)

    def page(url: str) -> Any:
        def get() -> None:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return get

    def metrics() -> None:
        call_command("qstash_metrics", "--since", "7d", "--json", stdout=StringIO())

    dashboard = "/admin/django_qstash_results/taskdashboard/"
    results = {
        "vendor": connection.vendor,
        "rows": count,
        "fill_seconds": fill_seconds,
        "admin index (baseline)": _median_ms(page("/admin/"), rounds),
        "dashboard 1h": _median_ms(page(f"{dashboard}?window=1h"), rounds),
        "dashboard 24h": _median_ms(page(f"{dashboard}?window=24h"), rounds),
        "dashboard 7d": _median_ms(page(f"{dashboard}?window=7d"), rounds),
        "qstash_metrics --since 7d": _median_ms(metrics, rounds),
    }
    return results


# ------------------------------------------------------------------------------ the parent


def _run_child(database: dict[str, Any], count: int, rounds: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.ops_dashboard",
            "--child",
            json.dumps(database),
            "--rows",
            str(count),
            "--rounds",
            str(rounds),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"the {database['ENGINE']} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _postgres(count: int, rounds: int) -> dict[str, Any] | None:
    import psycopg

    from benchmarks._harness import postgres_dsn

    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_PG)
    name = f"bench_ops_{os.getpid()}"
    try:
        admin = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        print(f"PostgreSQL skipped: cannot connect to {url} ({exc})")
        return None
    parsed = psycopg.conninfo.conninfo_to_dict(url)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": parsed.get("user", ""),
        "PASSWORD": parsed.get("password", ""),
        "HOST": parsed.get("host", ""),
        "PORT": parsed.get("port", ""),
    }
    postgres_dsn(database)  # the same connection fields as the other benchmarks use
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        try:
            return _run_child(database, count, rounds)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _report(result: dict[str, Any]) -> None:
    base = result["admin index (baseline)"]
    print(
        f"\n{result['vendor']}: {result['rows']:,} rows over {DAYS} days, {len(TASKS)} task names "
        f"(filled in {result['fill_seconds']:.1f} s)"
    )
    for name in (
        "admin index (baseline)",
        "dashboard 1h",
        "dashboard 24h",
        "dashboard 7d",
        "qstash_metrics --since 7d",
    ):
        ms = result[name]
        goal = "  (goal < 300 ms)" if name.startswith("dashboard") else ""
        print(f"  {name:<28} {ms:8.1f} ms   {ms / base:6.1f}x baseline{goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(child(json.loads(options.child), options.rows, options.rounds)))
        return
    if options.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            database = {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{tmp}/ops.sqlite3"}
            _report(_run_child(database, options.rows, options.rounds))
    if options.only != "sqlite":
        result = _postgres(options.rows, options.rounds)
        if result is not None:
            _report(result)


if __name__ == "__main__":
    main()
