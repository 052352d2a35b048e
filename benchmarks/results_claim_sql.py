"""The database side of a first delivery on PostgreSQL, for each way to claim it: the statements
each candidate sends on a persistent connection (no Django, no task), timed as ratios of medians
in one run, rounds interleaved, on WAL-logged tables shaped like the results app's.

* original 0.8.1: ``SELECT`` the message's result, ``INSERT`` it after the run (1 commit).
* row mode: one transaction (``INSERT`` the ``jti``, ``SELECT ... FOR UPDATE``, ``INSERT`` the
  STARTED row), then an ``UPDATE`` with the outcome (2 commits).
* session advisory locks: lock, look up, one ``WITH ... INSERT`` for the ``jti`` and the row,
  unlock (1 commit); lock mode (what ``auto`` picks) sends them in two round trips (lock and
  look up; write, ``COMMIT`` and unlock), as psycopg 3's client-side binding allows.
* transaction-scoped advisory lock: ``BEGIN``, ``pg_try_advisory_xact_lock``, look up, the two
  writes, ``COMMIT`` (1 commit, but the task would run inside that transaction: its own
  ``atomic()`` blocks become savepoints and its writes commit only with the outcome).

Usage: python -m benchmarks.results_claim_sql [--calls N] [--rounds N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks._harness import postgres_dsn, table

TABLES = """
CREATE TABLE seen (jti varchar(255) PRIMARY KEY, task_id varchar(255), expires_at timestamptz);
CREATE TABLE result (
    id bigserial PRIMARY KEY, task_id varchar(255) UNIQUE, task_name varchar(255),
    status varchar(10), args jsonb, kwargs jsonb, result jsonb, republished boolean,
    date_started timestamptz, date_done timestamptz
);
"""
LOOK_UP = (
    "SELECT 1, NULL, NULL FROM seen WHERE jti = %s "
    "UNION ALL SELECT 2, status, republished FROM result WHERE task_id = %s"
)
ROW = "(task_id, task_name, status, args, kwargs, result, republished, date_started, date_done)"
DONE = "(%s, 't', 'SUCCESS', '[1]', '{}', '1', false, now(), now())"
UPSERT = (
    f"INSERT INTO result {ROW} VALUES {DONE} ON CONFLICT (task_id) DO UPDATE SET "
    "status = EXCLUDED.status, result = EXCLUDED.result, date_done = EXCLUDED.date_done"
)
SEEN = "INSERT INTO seen VALUES (%s, %s, now()) ON CONFLICT (jti) DO NOTHING"


def candidates(db: Any) -> dict[str, Callable[[str, str, int, int], None]]:
    def original(message: str, jti: str, k1: int, k2: int) -> None:
        db.execute("SELECT status FROM result WHERE task_id = %s", [message]).fetchall()
        db.execute(f"INSERT INTO result {ROW} VALUES {DONE}", [message])

    def row_mode(message: str, jti: str, k1: int, k2: int) -> None:
        with db.transaction():
            db.execute("INSERT INTO seen VALUES (%s, %s, now())", [jti, message])
            db.execute("SELECT id FROM result WHERE task_id = %s FOR UPDATE", [message]).fetchall()
            db.execute(
                f"INSERT INTO result {ROW} VALUES (%s, 't', 'STARTED', '[1]', '{{}}', NULL, "
                "false, now(), NULL)",
                [message],
            )
        db.execute(
            "UPDATE result SET status = 'SUCCESS', result = '1', date_done = now() "
            "WHERE task_id = %s",
            [message],
        )

    def session_lock(message: str, jti: str, k1: int, k2: int) -> None:
        db.execute("SELECT pg_try_advisory_lock(%s), pg_try_advisory_lock(%s)", [k1, k2])
        db.execute(LOOK_UP, [jti, message]).fetchall()
        db.execute(f"WITH s AS ({SEEN}) {UPSERT}", [jti, message, message])
        db.execute("SELECT pg_advisory_unlock(%s), pg_advisory_unlock(%s)", [k1, k2])

    def session_lock_pipelined(message: str, jti: str, k1: int, k2: int) -> None:
        db.execute(
            f"SELECT pg_try_advisory_lock(%s), pg_try_advisory_lock(%s); {LOOK_UP}",
            [k1, k2, jti, message],
        )
        db.execute(
            f"WITH s AS ({SEEN}) {UPSERT}; COMMIT; "
            "SELECT pg_advisory_unlock(%s), pg_advisory_unlock(%s)",
            [jti, message, message, k1, k2],
        )

    def transaction_lock(message: str, jti: str, k1: int, k2: int) -> None:
        with db.transaction():
            db.execute(
                "SELECT pg_try_advisory_xact_lock(%s), pg_try_advisory_xact_lock(%s)", [k1, k2]
            )
            db.execute(LOOK_UP, [jti, message]).fetchall()
            db.execute(SEEN, [jti, message])
            db.execute(UPSERT, [message])

    return {
        "original 0.8.1 (SELECT, INSERT)": original,
        "row mode (claim transaction + UPDATE)": row_mode,
        "session advisory locks, 4 round trips": session_lock,
        "lock mode: the same in 2 round trips": session_lock_pipelined,
        "transaction-scoped advisory lock": transaction_lock,
    }


def main(calls: int, rounds: int, url: str) -> str:
    import environ  # django-environ, in the test dependency group
    import psycopg

    config: dict[str, Any] = environ.Env.db_url_config(url)
    name = f"bench_claim_sql_{os.getpid()}"
    admin = psycopg.connect(postgres_dsn(config), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        # Client-side binding, as Django's PostgreSQL backend uses by default.
        with psycopg.connect(
            postgres_dsn({**config, "NAME": name}),
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        ) as db:
            db.execute(TABLES)
            funcs = candidates(db)
            samples: dict[str, list[float]] = {n: [] for n in funcs}
            for round_ in range(rounds + 1):
                for label, func in funcs.items():
                    keys = [(uuid.uuid4().hex, uuid.uuid4().hex) for _ in range(calls)]
                    start = time.perf_counter()
                    for i, (message, jti) in enumerate(keys):
                        func(message, jti, 2 * i, 2 * i + 1)
                    if round_:  # the first round warms up
                        samples[label].append((time.perf_counter() - start) / calls)
        medians = {label: statistics.median(values) for label, values in samples.items()}
        return table(
            "The database side of one first delivery on PostgreSQL (persistent connection)",
            medians,
            "original 0.8.1 (SELECT, INSERT)",
        )
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"),
    )
    options = parser.parse_args()
    print(main(options.calls, options.rounds, options.postgres))
