"""The outbox's promise, end to end: a live outbox site (gunicorn), the dev server as QStash,
each view's work in a process of its own, `manage.py drain_outbox` as an operator runs it; on
SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.outbox.conftest import OutboxSite, OutboxSiteFactory
from tests.support.devserver import DevServerProcess
from tests.support.lossyproxy import LossyProxy

pytestmark = pytest.mark.slow

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


#: ``django_qstash.outbox.relay.COMMIT_LEASE``: rows of a killed process wait this long for the
#: drain (not imported: this pytest process does not install the outbox).
COMMIT_LEASE_SECONDS = 10


def wait_out_the_commit_lease() -> None:
    time.sleep(COMMIT_LEASE_SECONDS + 0.5)


def new_key() -> str:
    return f"outbox_{uuid.uuid4().hex[:12]}"


def record_runs(site: OutboxSite, key: str) -> list[int]:
    """The ``i`` of every ``record(key, i)`` run, sorted."""
    return sorted(run["value"] for run in site.server.task_runs("record", key))


def wait_for_all(site: OutboxSite, key: str, count: int) -> list[int]:
    site.server.wait_for_runs(count, task="record", key=key, timeout=120)
    # A moment more, so that a second delivery of any of them would be seen.
    time.sleep(1.0)
    return record_runs(site, key)


def ok(result: object) -> str:
    assert getattr(result, "returncode", 1) == 0, (
        f"{getattr(result, 'stdout', '')}\n{getattr(result, 'stderr', '')}"
    )
    return str(getattr(result, "stdout", ""))


@pytest.mark.parametrize("database", DATABASES)
def test_published_right_after_the_commit(outbox_site_factory: OutboxSiteFactory, database: str):
    site = outbox_site_factory(database=database)
    key = new_key()
    ok(site.enqueue(key, 3))
    assert wait_for_all(site, key, 3) == [0, 1, 2]
    assert site.pending() == 0
    assert site.outbox_rows() == []  # published rows are deleted (DJANGO_QSTASH_OUTBOX_KEEP=0)


@pytest.mark.parametrize("database", DATABASES)
def test_dev_server_down_at_commit_then_drained_runs_once(
    outbox_site_factory: OutboxSiteFactory,
    devserver_factory: object,
    database: str,
):
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver, database=database)
    key = new_key()
    devserver.stop()
    result = site.enqueue(key, 1)
    assert "committed" in ok(result)
    [row] = site.outbox_rows()
    assert row[1] == 1
    assert "Could not reach QStash" in row[2]
    assert row[3] is None

    devserver.start()  # same port and database
    drained = site.manage("drain_outbox", "--once")
    assert "1 published, 0 failed, 0 pending" in ok(drained)
    assert wait_for_all(site, key, 1) == [0]
    assert site.outbox_rows() == []
    assert len(site.created_messages()) == 1


@pytest.mark.parametrize("database", DATABASES)
def test_killed_between_commit_and_publish_is_delivered_by_the_drain(
    outbox_site_factory: OutboxSiteFactory, database: str
):
    site = outbox_site_factory(database=database)
    key = new_key()
    result = site.enqueue(key, 2, "--kill-after-commit")
    assert result.returncode == -9, result.stderr
    # The transaction committed (its order row is there) and nothing was published.
    assert site.server.task_runs("order", key)
    assert site.pending() == 2
    assert site.created_messages() == []
    # Until the killed process's claim lapses, no drainer takes its rows.
    assert "0 published, 0 failed, 2 pending" in ok(site.manage("drain_outbox", "--once"))

    wait_out_the_commit_lease()
    assert "2 published" in ok(site.manage("drain_outbox", "--once"))
    assert wait_for_all(site, key, 2) == [0, 1]
    assert len(site.created_messages()) == 2


@pytest.mark.parametrize("database", DATABASES)
def test_rollback_publishes_nothing(outbox_site_factory: OutboxSiteFactory, database: str):
    site = outbox_site_factory(database=database)
    key = new_key()
    assert "rolled back" in ok(site.enqueue(key, 3, "--rollback"))
    assert site.outbox_rows() == []
    assert "0 published, 0 failed, 0 pending" in ok(site.manage("drain_outbox", "--once"))
    assert site.server.task_runs(key=key) == []
    assert site.created_messages() == []


@pytest.mark.parametrize("database", DATABASES)
def test_ten_delays_first_publish_fails_all_ten_run_once(
    outbox_site_factory: OutboxSiteFactory, database: str
):
    """The proxy forwards the first publish and loses QStash's answer: QStash has the message,
    the outbox does not know it. The other nine go out at the commit; the drain publishes the
    first again with the same deduplication id, and QStash keeps one message."""
    site = outbox_site_factory(database=database)
    key = new_key()
    with LossyProxy(site.devserver.url, drop=1) as proxy:
        result = site.enqueue(key, 10, QSTASH_URL=proxy.url, DJANGO_QSTASH_PUBLISH_RETRIES="0")
        ok(result)
    # The first row waits with its error; the nine others went out (alone or in a batch).
    [row] = site.outbox_rows()
    assert row[1] == 1
    assert "RemoteProtocolError" in row[2], result.stderr[-3000:]
    assert proxy.forwarded >= 2
    assert "1 published" in ok(site.manage("drain_outbox", "--once"))
    assert wait_for_all(site, key, 10) == list(range(10))
    assert len(site.created_messages()) == 10


@pytest.mark.parametrize("database", DATABASES)
def test_group_in_a_transaction_goes_through_the_outbox(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object, database: str
):
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver, database=database)
    key = new_key()
    devserver.stop()
    ok(site.enqueue(key, 4, "--group"))
    assert site.pending() == 4
    devserver.start()
    assert "4 published" in ok(site.manage("drain_outbox", "--once"))
    assert wait_for_all(site, key, 4) == [0, 1, 2, 3]


def test_delay_on_commit_goes_through_the_outbox_too(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object
):
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver)
    key = new_key()
    devserver.stop()
    ok(site.enqueue(key, 2, "--on-commit"))
    assert site.pending() == 2
    devserver.start()
    assert "2 published" in ok(site.manage("drain_outbox", "--once"))
    assert wait_for_all(site, key, 2) == [0, 1]


@pytest.mark.parametrize("database", DATABASES)
def test_publish_to_a_url_in_a_transaction_goes_through_the_outbox(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object, database: str
):
    """``django_qstash.publish(url, ...)`` inside ``transaction.atomic()``: a row in the
    transaction, its deduplication id returned; QStash down at the commit loses nothing."""
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver, database=database)
    key = new_key()
    devserver.stop()
    printed = ok(site.enqueue(key, 2, "--publish"))
    rows = site.outbox_rows()
    assert [row[1] for row in rows] == [1, 1]
    returned = [line.split()[1] for line in printed.splitlines() if line.startswith("published")]
    assert returned == [row[4] for row in rows]
    devserver.start()
    assert "2 published, 0 failed, 0 pending" in ok(site.manage("drain_outbox", "--once"))
    assert wait_for_all(site, key, 2) == [0, 1]
    assert len(site.created_messages()) == 2


@pytest.mark.parametrize("database", DATABASES)
def test_publish_to_a_url_rolled_back_publishes_nothing(
    outbox_site_factory: OutboxSiteFactory, database: str
):
    site = outbox_site_factory(database=database)
    key = new_key()
    assert "rolled back" in ok(site.enqueue(key, 2, "--publish", "--rollback"))
    assert site.outbox_rows() == []
    assert site.created_messages() == []


@pytest.mark.parametrize("database", DATABASES)
def test_two_drainers_on_1000_rows_publish_each_once(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object, database: str
):
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver, database=database)
    key = new_key()
    result = site.enqueue(key, 1000, "--kill-after-commit")
    assert result.returncode == -9, result.stderr
    assert site.pending() == 1000
    wait_out_the_commit_lease()

    small_batches = {"DJANGO_QSTASH_OUTBOX_BATCH_SIZE": "25"}
    drainers = [site.drainer("--once", **small_batches) for _ in range(2)]
    outputs = [drainer.communicate(timeout=300) for drainer in drainers]
    for drainer, (out, err) in zip(drainers, outputs, strict=True):
        assert drainer.returncode == 0, f"{out}\n{err}"
    published = [
        int(out.rsplit("Outbox drained: ", 1)[1].split(" published")[0]) for out, _ in outputs
    ]
    # Every row published by exactly one of them, and QStash has 1,000 messages.
    assert sum(published) == 1000, outputs
    assert site.pending() == 0
    assert len(site.created_messages()) == 1000
