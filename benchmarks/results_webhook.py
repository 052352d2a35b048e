"""The webhook with the results app, against the same webhook without it and a bare Django view.

In-process WSGI, no sockets, no middleware, file-backed databases (SQLite in its default
synchronous mode and with ``synchronous=OFF``; PostgreSQL with ``--postgres URL``, a persistent
connection, in both claim modes). Every
delivery is a new message with its own signed token, so each one claims, runs a trivial task and
records its outcome, as a first delivery does in production. Candidates run interleaved, round
after round, and are compared as ratios of medians measured in the same run.

It also counts the statements and commits one delivery costs. With ``--original PYTHON`` (a
Python that has the original ``django-qstash==0.8.1`` installed, for example from
``uv venv /tmp/orig && uv pip install --python /tmp/orig/bin/python django-qstash==0.8.1
'psycopg[binary]'``) it measures the original implementation's webhook the same way (with
``--postgres``, on a PostgreSQL database of its own too), in a subprocess
(``_original_results.py``), one round of it after each round here, and compares times per
delivery directly and as ratios to each process's own bare view.

Usage: python -m benchmarks.results_webhook [--calls N] [--rounds N] [--original PYTHON]
       [--postgres URL]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks._harness import per_call_seconds, postgres_dsn, table
from tests.support.commits import CommitCounter

#: The original implementation's cost as given in the issue (SQLite, in-process, per delivery).
ORIGINAL_FULL = 27.6
ORIGINAL_OFF = 16.7
TARGET = 0.9
FULL = "webhook + results, SQLite synchronous=FULL (default)"
PG_LOCK = "webhook + results, PostgreSQL (lock mode: advisory locks; CONN_MAX_AGE)"
PG_ROW = "webhook + results, PostgreSQL, row claim mode (CONN_MAX_AGE)"
ORIGINAL_PG = "original webhook, PostgreSQL (CONN_MAX_AGE)"
OFF = "webhook + results, SQLite synchronous=OFF"


class AliasRouter:
    """Sends reads and writes to the database alias under test (``settings.BENCH_ALIAS``; this
    module runs as ``__main__``, so a class attribute would not reach the router Django
    imports)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        from django.conf import settings

        return str(settings.BENCH_ALIAS)

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.db_for_read(model)


def _use(alias: str, mode: str) -> None:
    from django.conf import settings

    settings.BENCH_ALIAS = alias
    if getattr(settings, "DJANGO_QSTASH_RESULTS_CLAIM_MODE", None) != mode:
        from django_qstash.results.conf import conf

        settings.DJANGO_QSTASH_RESULTS_CLAIM_MODE = mode
        conf.clear_cache()  # what override_settings' setting_changed signal does


def _configure(tmp: Path, postgres: dict[str, Any] | None) -> list[str]:
    from django.conf import settings

    databases: dict[str, dict[str, Any]] = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "full.sqlite3")},
        "nosync": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp / "off.sqlite3")},
    }
    if postgres:
        databases["postgres"] = postgres
    settings.configure(
        SECRET_KEY="benchmark",
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=["django_qstash", "django_qstash.results"],
        ROOT_URLCONF="benchmarks.urls",
        DATABASES=databases,
        DATABASE_ROUTERS=["benchmarks.results_webhook.AliasRouter"],
        MIDDLEWARE=[],
        USE_TZ=True,
        QSTASH_TOKEN="benchmark-token",
        QSTASH_CURRENT_SIGNING_KEY="sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        QSTASH_NEXT_SIGNING_KEY="sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
        DJANGO_QSTASH_DOMAIN="http://127.0.0.1:8000",
        DJANGO_QSTASH_FORCE_HTTPS=False,
        LOGGING_CONFIG=None,
        BENCH_ALIAS="default",
    )
    return list(databases)


def _synchronous_off(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.alias == "nosync":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")


def main(
    calls: int = 50,
    rounds: int = 30,
    original: str | None = None,
    postgres_url: str | None = None,
) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="bench-results-"))
    # Each implementation gets a PostgreSQL database of its own.
    postgres = _postgres_database(postgres_url, "ours")
    original_postgres = _postgres_database(postgres_url, "original") if original else None
    try:
        return _run(tmp, calls, rounds, original, postgres, original_postgres)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for database in (postgres, original_postgres):
            if database:
                _drop_postgres_database(database)


def _run(
    tmp: Path,
    calls: int,
    rounds: int,
    original: str | None,
    postgres: dict[str, Any] | None,
    original_postgres: dict[str, Any] | None,
) -> str:
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    aliases = _configure(tmp, postgres)
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connections
    from django.db.backends.signals import connection_created

    from django_qstash import hooks
    from tests.support.signing import make_token

    connection_created.connect(_synchronous_off)
    for alias in aliases:
        call_command("migrate", database=alias, verbosity=0)

    handler = WSGIHandler()
    body = hooks.build_message("benchmarks.noop", [1])
    url = hooks.webhook_url()
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    def environ(path: str, extra: dict[str, str]) -> dict[str, object]:
        env: dict[str, object] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.input": io.BytesIO(body),
            "HTTP_UPSTASH_RETRIED": "0",
        }
        env.update(extra)
        return env

    def deliveries(count: int) -> Iterator[dict[str, str]]:
        # Made before timing: a new message with its own token for every delivery.
        for _ in range(count):
            yield {
                "HTTP_UPSTASH_MESSAGE_ID": f"msg_{uuid.uuid4().hex}",
                "HTTP_UPSTASH_SIGNATURE": make_token(body, url),
            }

    needed = 200 + calls * rounds + 10

    def bare() -> bytes:
        return b"".join(handler(environ("/bare/", {}), start_response))

    def webhook(alias: str | None, mode: str = "auto") -> Callable[[], bytes]:
        pending = deliveries(needed)
        store = hooks.get_result_store()

        def call() -> bytes:
            extra = next(pending)
            if alias is None:
                hooks.unregister_result_store()
                try:
                    return b"".join(handler(environ("/qstash/webhook/", extra), start_response))
                finally:
                    hooks.register_result_store(store)  # type: ignore[arg-type]
            _use(alias, mode)
            return b"".join(handler(environ("/qstash/webhook/", extra), start_response))

        return call

    candidates: dict[str, Callable[[], bytes]] = {
        "bare JSON view": bare,
        "webhook, core only (no results app)": webhook(None),
        FULL: webhook("default"),
        OFF: webhook("nosync"),
        "webhook + results, SQLite FULL, row claim mode": webhook("default", "row"),
    }
    if postgres:
        candidates[PG_LOCK] = webhook("postgres")
        candidates[PG_ROW] = webhook("postgres", "row")
    for name, call in candidates.items():
        answer = call()
        assert b'"success"' in answer, (name, answer)

    for func in candidates.values():
        for _ in range(200):
            func()
    original_process = Original(original, calls, original_postgres) if original else None
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    original_samples: list[dict[str, float]] = []
    try:
        # Round after round, every candidate and then the original's round: all of them see
        # the same (shared, noisy) machine.
        for _ in range(rounds):
            for name, func in candidates.items():
                samples[name].append(per_call_seconds(func, calls))
            if original_process:
                original_samples.append(original_process.round())
    finally:
        if original_process:
            original_process.close()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    assert all(status.startswith("200") for status in statuses), set(statuses)

    lines = [table("Webhook delivery of a trivial task (per request)", medians, "bare JSON view")]
    lines.append("")
    lines.append("Cost of one first delivery (round trips, with their statements; commits):")
    modes = [("default", "auto"), ("default", "row")]
    if postgres:
        modes += [("postgres", "auto"), ("postgres", "row")]
    for alias, mode in modes:
        call = webhook(alias, mode)
        with CommitCounter(connections[alias]) as counter:
            assert b'"success"' in call()
        claim_mode = hooks.get_result_store().claim_mode(alias)  # type: ignore[union-attr]
        lines.append(f"  {connections[alias].vendor:<10} {claim_mode} mode: {counter.summary()}")
    if original_process:
        for database, cost in original_process.costs.items():
            lines.append(f"  the original, {database}: {cost}")

    bare_s = medians["bare JSON view"]
    full = medians[FULL] / bare_s
    off = medians[OFF] / bare_s
    lines.append("")
    lines.append("Against the original implementation's cost from the issue (x a bare view):")
    lines.append(
        f"  SQLite default: {full:5.1f}x vs {ORIGINAL_FULL}x -> {full / ORIGINAL_FULL:.2f} of its "
        f"time (target <= {TARGET})"
    )
    lines.append(
        f"  SQLite sync=OFF: {off:5.1f}x vs {ORIGINAL_OFF}x -> {off / ORIGINAL_OFF:.2f} of its "
        f"time (target <= {TARGET})"
    )
    if original_samples:
        measured = {
            name: statistics.median(sample[name] for sample in original_samples)
            for name in original_samples[0]
        }
        lines.append("")
        lines.append(
            table(
                "The original django-qstash 0.8.1 webhook (same harness, rounds interleaved)",
                measured,
                "bare JSON view",
            )
        )
        lines.append("")
        lines.extend(_against_the_original(medians, measured))
    return "\n".join(lines)


def _against_the_original(ours: dict[str, float], theirs: dict[str, float]) -> list[str]:
    pairs = [
        ("SQLite default", FULL, "original webhook, SQLite synchronous=FULL (default)"),
        ("SQLite sync=OFF", OFF, "original webhook, SQLite synchronous=OFF"),
        ("PostgreSQL", PG_LOCK, ORIGINAL_PG),
        ("PostgreSQL, row mode", PG_ROW, ORIGINAL_PG),
    ]
    pairs = [pair for pair in pairs if pair[1] in ours and pair[2] in theirs]
    lines = [
        "This implementation against the original, both measured in this run",
        "  time per delivery (the same machine, rounds interleaved):",
    ]
    for label, mine, original in pairs:
        lines.append(
            f"    {label + ':':<22} {ours[mine] * 1e6:7.0f} µs vs {theirs[original] * 1e6:7.0f} "
            f"µs -> {ours[mine] / theirs[original]:.2f} of its time (target <= {TARGET})"
        )
    lines.append(
        "  as multiples of each process's own bare view (the two differ: the original "
        "package, for one, adds a request_started receiver to every request):"
    )
    bare, their_bare = ours["bare JSON view"], theirs["bare JSON view"]
    for label, mine, original in pairs:
        x, their_x = ours[mine] / bare, theirs[original] / their_bare
        lines.append(f"    {label + ':':<22} {x:5.1f}x vs {their_x:5.1f}x -> {x / their_x:.2f}")
    return lines


# ------------------------------------------------------------------------------ PostgreSQL


def _postgres_database(url: str | None, owner: str) -> dict[str, Any] | None:
    if not url:
        return None
    import environ  # django-environ, in the test dependency group
    import psycopg

    config: dict[str, Any] = environ.Env.db_url_config(url)
    name = f"bench_results_{owner}_{os.getpid()}"
    with psycopg.connect(postgres_dsn(config), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    # Persistent connections, as production PostgreSQL setups (or their poolers) keep them:
    # without, a new connection per request would be most of the time measured.
    return {**config, "NAME": name, "ADMIN_NAME": config["NAME"], "CONN_MAX_AGE": 600}


def _drop_postgres_database(config: dict[str, Any]) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(
        postgres_dsn({**config, "NAME": config["ADMIN_NAME"]}), autocommit=True
    ) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}"')


# ------------------------------------------------------------------------------ the original


class Original:
    """The original implementation's benchmark, in its own process, one round on request."""

    def __init__(self, python: str, calls: int, postgres: dict[str, Any] | None) -> None:
        command = [python, str(Path(__file__).with_name("_original_results.py")), str(calls)]
        if postgres:
            command.append(json.dumps(postgres))
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={
                k: v
                for k, v in os.environ.items()
                if k not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH", "VIRTUAL_ENV")
            },
        )
        assert self.process.stdout is not None
        ready, _, costs = self.process.stdout.readline().strip().partition(" ")
        if ready != "ready":
            self.process.kill()
            raise SystemExit("the original's benchmark did not start (see its stderr above)")
        #: What one first delivery costs it, per database: "N statements (...), N commit(s)".
        self.costs: dict[str, str] = json.loads(costs)

    def round(self) -> dict[str, float]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        sample: dict[str, float] = json.loads(self.process.stdout.readline())
        return sample

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--original",
        metavar="PYTHON",
        default=os.environ.get("BENCH_ORIGINAL_PYTHON"),
        help="a Python with django-qstash==0.8.1 and psycopg installed (or set "
        "BENCH_ORIGINAL_PYTHON)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="a PostgreSQL server to measure on too, e.g. postgres://postgres@127.0.0.1:5432/test "
        "(or set BENCH_POSTGRES_URL); each implementation gets a database of its own there",
    )
    options = parser.parse_args()
    print(main(options.calls, options.rounds, options.original, options.postgres))
