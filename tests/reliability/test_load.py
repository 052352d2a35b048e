"""Load: 1,000 deliveries through the dev server to gunicorn (4 worker processes x 4 threads)
on PostgreSQL with the results app. No errors; every task ran exactly once (its side effects are
counted); the planned failures were retried exactly once each, and those retries are counted
from the dev server's log. ``make soak`` runs the same with 10,000 and a dev-server crash.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from django_qstash.exceptions import PublishError
from example.tasks import fail_until, record
from tests.reliability.conftest import SETTINGS
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db]

DELIVERIES = 1_000
FAILING_EVERY = 10  # one message in ten fails its first attempt, succeeds on its retry


def run_load(
    server: DjangoServer,
    devserver: DevServerProcess,
    deliveries: int,
    prefix: str,
    timeout: float,
    *,
    publishers: int = 4,
    crash: bool = False,
) -> dict[str, Any]:
    """Publish ``deliveries`` messages with ``.delay()`` from ``publishers`` threads (``crash``:
    SIGKILL and restart the dev server halfway), wait until all are delivered, assert that each
    ran exactly once, and return the figures."""
    started = time.monotonic()
    failing = sum(1 for i in range(deliveries) if i % FAILING_EVERY == FAILING_EVERY - 1)

    def publish(i: int) -> None:
        if i % FAILING_EVERY == FAILING_EVERY - 1:
            task, args = fail_until, (f"{prefix}f{i}", 2)
        else:
            task, args = record, (f"{prefix}r{i}", {"i": i})
        if not crash:
            task.delay(*args)
            return
        # QStash may go down meanwhile: publish idempotently (our own deduplication id), and
        # try again until it is back.
        deadline = time.monotonic() + 60
        while True:
            try:
                task.apply_async(args, deduplication_id=f"{prefix}{i}")
                return
            except PublishError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    with ThreadPoolExecutor(publishers) as pool:
        done = pool.map(publish, range(deliveries))
        if crash:
            # Halfway through, the dev server is SIGKILLed and restarted.
            wait_until(
                lambda: (
                    len(devserver.events(state="DELIVERED", count=10_000)) > deliveries // 2 or None
                ),
                timeout=timeout,
                interval=0.5,
            )
            devserver.kill()
            devserver.start()
        list(done)
    published = time.monotonic() - started

    def delivered() -> int | None:
        done = len(devserver.events(state="DELIVERED", count=10_000))
        return done if done >= deliveries else None

    try:
        wait_until(delivered, timeout=timeout, interval=0.5, message=f"{deliveries} deliveries")
    except AssertionError:
        raise AssertionError(
            f"{devserver.events(count=20)}\n{server.log()[-3000:]}\n{devserver.log()[-3000:]}"
        ) from None
    duration = time.monotonic() - started

    # Exactly once: one side effect per record message, two per failing message (the failed
    # first attempt and the retry), and not one more.
    (records, distinct) = server.query(
        "SELECT count(*), count(DISTINCT key) FROM example_taskrun WHERE task = 'record' "
        "AND key LIKE ?",
        (f"{prefix}r%",),
    )[0]
    per_failing = server.query(
        "SELECT key, count(*) FROM example_taskrun WHERE task = 'fail_until' AND key LIKE ? "
        "GROUP BY key",
        (f"{prefix}f%",),
    )
    assert (records, distinct) == (deliveries - failing, deliveries - failing)
    assert len(per_failing) == failing
    assert {n for _, n in per_failing} == {2}, per_failing
    statuses = server.query(
        "SELECT status, attempts, count(*) FROM django_qstash_results_taskresult "
        "WHERE task_name IN (?, ?) GROUP BY status, attempts ORDER BY attempts",
        (record.name, fail_until.name),
    )
    events = devserver.events(state="RETRY", count=10_000)
    retries = len(events)
    figures = {
        "deliveries": deliveries,
        "published_s": round(published, 1),
        "duration_s": round(duration, 1),
        "retries": retries,
        "failed": len(devserver.events(state="FAILED", count=10_000)),
        "exactly_once": records + len(per_failing),
        "results": statuses,
    }
    print(f"\nload figures: {figures}")
    assert sum(n for status, _, n in statuses if status == "SUCCESS") == deliveries, statuses
    if crash:
        # An attempt in flight at the crash is sent again at the same retry count, so a
        # failing message may fail, be cut off, and succeed without a recorded retry.
        assert retries <= failing, retries
        assert figures["failed"] == 0
        assert devserver.dlq() == []
        return figures
    assert ("SUCCESS", 1, deliveries - failing) in statuses, statuses
    assert ("SUCCESS", 2, failing) in statuses, statuses
    # Retries: exactly the planned ones, each answered 500 by the failing task; nothing failed
    # for good, nothing is in the DLQ, and nothing else went wrong on the way.
    unplanned = [
        {k: e.get(k) for k in ("messageId", "responseStatus", "responseBody", "error")}
        for e in events
        if "fails on purpose" not in (e.get("responseBody") or "")
    ]
    assert retries == failing, unplanned
    assert {e["responseStatus"] for e in events} == {500}
    assert figures["failed"] == 0
    assert devserver.dlq() == []
    log = server.log()
    for trouble in ("could not", "store_unavailable", "Internal Server Error", "WORKER TIMEOUT"):
        assert trouble not in log, trouble
    return figures


def test_a_thousand_deliveries_each_run_exactly_once(
    devserver_factory, django_server_factory, publish_via
):
    devserver = devserver_factory("--quiet")
    server = django_server_factory(
        devserver, database="postgres", workers=4, env={"DJANGO_SETTINGS_MODULE": SETTINGS}
    )
    publish_via(server)
    run_load(server, devserver, DELIVERIES, "load_", timeout=150)
