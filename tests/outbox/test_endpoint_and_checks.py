"""The drain endpoint a QStash schedule calls every minute, `drain_outbox --schedule`, the
system check on rows that wait too long, and rows kept after their publish."""

from __future__ import annotations

import httpx
import pytest

from tests.outbox.conftest import OutboxSiteFactory
from tests.outbox.test_faults import new_key, ok, record_runs
from tests.support.devserver import DevServerProcess, wait_until

pytestmark = pytest.mark.slow


def test_schedule_calls_the_signed_drain_endpoint(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object
):
    devserver: DevServerProcess = devserver_factory(cron_tick=1.0)  # type: ignore[operator]
    site = outbox_site_factory(devserver)
    key = new_key()
    devserver.stop()
    ok(site.enqueue(key, 2))
    assert site.pending() == 2
    devserver.start()

    scheduled = ok(site.manage("drain_outbox", "--schedule"))
    drain_url = f"{site.server.url}/qstash/outbox/drain/"
    assert f"calls {drain_url} every minute" in scheduled
    [schedule] = [
        s
        for s in devserver.client().schedule.list()
        if s.schedule_id == "django-qstash-outbox-drain"
    ]
    assert schedule.destination == drain_url
    # The dev server's minute lasts a second: the schedule drains once the backoff is over.
    site.server.wait_for_runs(2, task="record", key=key, timeout=60)
    assert record_runs(site, key) == [0, 1]
    wait_until(lambda: site.pending() == 0, timeout=10)

    ok(site.manage("drain_outbox", "--unschedule"))
    assert "django-qstash-outbox-drain" not in {
        s.schedule_id for s in devserver.client().schedule.list()
    }


def test_drain_endpoint_refuses_unsigned_and_get(outbox_site_factory: OutboxSiteFactory):
    site = outbox_site_factory()
    url = f"{site.server.url}/qstash/outbox/drain/"
    forged = httpx.post(url, content=b"", headers={"Upstash-Signature": "a.b.c"}, trust_env=False)
    assert forged.status_code == 401
    assert "well-formed" in forged.json()["error"]
    assert httpx.post(url, content=b"", trust_env=False).status_code == 401
    assert httpx.get(url, trust_env=False).status_code == 405


def test_check_warns_about_rows_waiting_too_long(
    outbox_site_factory: OutboxSiteFactory, devserver_factory: object
):
    devserver: DevServerProcess = devserver_factory()  # type: ignore[operator]
    site = outbox_site_factory(devserver)
    clean = site.manage("check", "--database", "default", DJANGO_QSTASH_OUTBOX_WARN_AFTER="0")
    assert "django_qstash_outbox.W001" not in ok(clean) + clean.stderr
    devserver.stop()
    ok(site.enqueue(new_key(), 3))
    warned = site.manage("check", "--database", "default", DJANGO_QSTASH_OUTBOX_WARN_AFTER="0")
    assert "django_qstash_outbox.W001" in warned.stderr
    assert "3 outbox message(s)" in warned.stderr
    # Within the threshold: no warning.
    calm = site.manage("check", "--database", "default")
    assert "W001" not in calm.stderr + calm.stdout


def test_published_rows_kept_for_the_configured_time(outbox_site_factory: OutboxSiteFactory):
    site = outbox_site_factory(env={"DJANGO_QSTASH_OUTBOX_KEEP": "3600"})
    key = new_key()
    ok(site.enqueue(key, 1))
    site.server.wait_for_runs(1, task="record", key=key, timeout=60)
    [row] = wait_until(lambda: [r for r in site.outbox_rows() if r[3] is not None], timeout=10)
    assert row[1] == 1
    assert row[4].startswith("outbox-")  # the deduplication id it was published with
    assert site.pending() == 0
