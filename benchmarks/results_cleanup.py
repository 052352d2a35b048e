"""Cleanup of 1,000,000 stale task results: ``clear_stale_results`` against a raw SQL DELETE.

For each database (SQLite in its default journal and synchronous modes; PostgreSQL when
BENCH_POSTGRES_URL is set, in a scratch database created and dropped here) the table is filled
with ROWS stale results (finished 8 days ago) plus FRESH recent ones, then emptied of the stale
ones twice, from the same starting point:

1. by ``clear_stale_results --since 604800 --no-input``, run as a real command in its own
   process, whose peak resident memory (ru_maxrss) is read from the kernel when it exits;
2. by one raw ``DELETE ... WHERE date_done < cutoff`` (and the same for never-finished rows),
   the fastest a database can do it, in one transaction.

Rows per second are compared as a ratio (the command's to the raw DELETE's), measured in the
same run. The command's own Python and Django start-up are outside its timed part and inside its
peak memory (a bare ``django.setup()`` process is shown for scale).

Usage: python -m benchmarks.results_cleanup [--rows N] [--fresh N]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks._harness import postgres_dsn

ROOT = Path(__file__).resolve().parents[1]
TABLE = "django_qstash_results_taskresult"
COLUMNS = (
    "task_id, request_id, task_name, status, args, kwargs, result, result_is_repr, exception_type, "
    "exception_message, traceback, attempts, republished, schedule_id, date_created, "
    "date_started, date_done, duration"
)
CHUNK = 20_000

# Runs in a child process: set Django up for the database in argv[1] (a JSON settings dict),
# then run what argv[2] says, printing one JSON line.
CHILD = r"""
import json, sys, time
from django.conf import settings
settings.configure(
    SECRET_KEY="benchmark", USE_TZ=True, DATABASES={"default": json.loads(sys.argv[1])},
    INSTALLED_APPS=["django_qstash", "django_qstash.results"], LOGGING_CONFIG=None,
    QSTASH_TOKEN="benchmark", DJANGO_QSTASH_DOMAIN="http://127.0.0.1:8000",
)
import django
django.setup()
from django.core.management import call_command
action = sys.argv[2]
if action == "migrate":
    call_command("migrate", verbosity=0)
elif action == "clear":
    start = time.perf_counter()
    call_command("clear_stale_results", "--since", "604800", "--no-input")
    print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def _child(database: dict[str, Any], action: str) -> tuple[dict[str, Any], int]:
    """Run CHILD; return its JSON output and its peak RSS in KiB."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), json.dumps(database), action],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{action} failed in the child process (exit {process.returncode})")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return (json.loads(lines[-1]) if lines else {}), usage.ru_maxrss


def _rows(count: int, fresh: int) -> Iterator[tuple[Any, ...]]:
    now = datetime.datetime.now(datetime.timezone.utc)
    old = now - datetime.timedelta(days=8)
    recent = now - datetime.timedelta(hours=1)
    for n in range(count + fresh):
        when = old if n < count else recent
        yield (
            f"msg_{n:012d}",
            "",
            f"app.tasks.task_{n % 20}",
            "SUCCESS" if n % 10 else "FAILURE",
            "[1, 2]",
            '{"key": "value"}',
            '{"answer": 42}',
            False,
            "",
            "",
            "",
            1,
            False,
            "",
            when,
            when,
            when,
            0.0125,
        )


def _chunks(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ------------------------------------------------------------------------------ SQLite


class SQLiteTarget:
    name = "SQLite"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "cleanup.sqlite3"
        self.database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(self.path)}

    def fill(self, count: int, fresh: int) -> None:
        with sqlite3.connect(self.path) as db:
            db.execute(f"DELETE FROM {TABLE}")
        db = sqlite3.connect(self.path)
        try:
            marks = ", ".join("?" * 18)
            for chunk in _chunks(_rows(count, fresh)):
                db.executemany(
                    f"INSERT INTO {TABLE} ({COLUMNS}) VALUES ({marks})",
                    [_sqlite_row(row) for row in chunk],
                )
                db.commit()
        finally:
            db.close()

    def raw_delete(self, cutoff: datetime.datetime) -> float:
        db = sqlite3.connect(self.path)
        try:
            start = time.perf_counter()
            text = _sqlite_time(cutoff)
            db.execute(f"DELETE FROM {TABLE} WHERE date_done < ?", [text])
            db.execute(f"DELETE FROM {TABLE} WHERE date_done IS NULL AND date_created < ?", [text])
            db.commit()
            return time.perf_counter() - start
        finally:
            db.close()

    def count(self) -> int:
        with sqlite3.connect(self.path) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])

    def close(self) -> None:
        pass


def _sqlite_time(moment: datetime.datetime) -> str:
    # How Django's SQLite backend stores an aware datetime (UTC, without the offset).
    return moment.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat(" ")


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_sqlite_time(v) if isinstance(v, datetime.datetime) else v for v in row)


# ------------------------------------------------------------------------------ PostgreSQL


class PostgresTarget:
    name = "PostgreSQL"

    def __init__(self, url: str) -> None:
        import environ  # django-environ, in the test dependency group
        import psycopg

        config: dict[str, Any] = environ.Env.db_url_config(url)
        self.admin_dsn = postgres_dsn(config)
        self.name_db = f"bench_cleanup_{os.getpid()}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{self.name_db}"')
        self.database = {**config, "NAME": self.name_db}
        self.dsn = postgres_dsn(self.database)

    def fill(self, count: int, fresh: int) -> None:
        import psycopg

        with psycopg.connect(self.dsn) as db:
            db.execute(f"TRUNCATE {TABLE}")
            with db.cursor().copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as copy:
                for row in _rows(count, fresh):
                    copy.write_row(row)
        with psycopg.connect(self.dsn, autocommit=True) as db:
            db.execute(f"VACUUM ANALYZE {TABLE}")

    def raw_delete(self, cutoff: datetime.datetime) -> float:
        import psycopg

        with psycopg.connect(self.dsn) as db:
            start = time.perf_counter()
            db.execute(f"DELETE FROM {TABLE} WHERE date_done < %s", [cutoff])
            db.execute(
                f"DELETE FROM {TABLE} WHERE date_done IS NULL AND date_created < %s", [cutoff]
            )
            db.commit()
            return time.perf_counter() - start

    def count(self) -> int:
        import psycopg

        with psycopg.connect(self.dsn) as db:
            row = db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()
            assert row is not None
            return int(row[0])

    def close(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.name_db}"')


# ------------------------------------------------------------------------------ the run


def measure(target: Any, rows: int, fresh: int, say: Callable[[str], None]) -> dict[str, Any]:
    _child(target.database, "migrate")
    say(f"  {target.name}: filling {rows:,} stale + {fresh:,} fresh rows ...")
    target.fill(rows, fresh)
    say(f"  {target.name}: clear_stale_results --since 604800 --no-input ...")
    out, peak_kib = _child(target.database, "clear")
    command_seconds = float(out["seconds"])
    assert target.count() == fresh, "the command must leave exactly the fresh rows"
    target.fill(rows, fresh)
    say(f"  {target.name}: raw DELETE ...")
    cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=604800)
    raw_seconds = target.raw_delete(cutoff)
    assert target.count() == fresh
    return {
        "command_seconds": command_seconds,
        "raw_seconds": raw_seconds,
        "peak_mib": peak_kib / 1024,
    }


def main(rows: int = 1_000_000, fresh: int = 50_000) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cleanup-"))
    targets: list[Any] = [SQLiteTarget(tmp)]
    url = os.environ.get("BENCH_POSTGRES_URL")
    if url:
        targets.append(PostgresTarget(url))
    results: dict[str, dict[str, Any]] = {}

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        _, baseline_kib = _child(targets[0].database, "setup-only")
        for target in targets:
            results[target.name] = measure(target, rows, fresh, say)
    finally:
        for target in targets:
            target.close()
        shutil.rmtree(tmp, ignore_errors=True)

    lines = [
        f"Cleanup of {rows:,} stale task results (with {fresh:,} fresh ones kept)",
        f"  {'':<11} {'command':>9} {'rows/s':>11} {'raw DELETE':>11} {'rows/s':>11} "
        f"{'ratio':>6} {'peak RSS':>9}",
    ]
    for name, r in results.items():
        lines.append(
            f"  {name:<11} {r['command_seconds']:8.2f}s {rows / r['command_seconds']:11,.0f} "
            f"{r['raw_seconds']:10.2f}s {rows / r['raw_seconds']:11,.0f} "
            f"{r['raw_seconds'] / r['command_seconds']:5.2f}x {r['peak_mib']:6.0f} MiB"
        )
    lines.append(
        f"  (ratio: the command's rows per second over the raw DELETE's, target >= 0.5; peak "
        f"RSS of the command's whole process, target < 200 MiB; a process that only sets "
        f"Django up peaks at {baseline_kib / 1024:.0f} MiB)"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--fresh", type=int, default=50_000)
    options = parser.parse_args()
    print(main(options.rows, options.fresh))
