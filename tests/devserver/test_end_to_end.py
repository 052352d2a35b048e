"""End to end: ``.delay()`` → the dev server → the sample project under gunicorn → the task ran.

The sample project runs as a real server process with its own migrated SQLite database; the
rows its example tasks write (``example.models.TaskRun``) are read back with sqlite3.
"""

from __future__ import annotations

import json
import uuid

import pytest

from django_qstash import envelope
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def live(django_server: DjangoServer, publish_via) -> DjangoServer:
    publish_via(django_server)
    return django_server


def _key() -> str:
    return uuid.uuid4().hex[:12]


def _states(server: DevServerProcess, message_id: str) -> list[str]:
    return server.message_states(message_id)


def test_success(live: DjangoServer):
    from example.tasks import record

    key = _key()
    result = record.delay(key, {"n": 1})
    (run,) = live.wait_for_runs(1, task="record", key=key)
    assert run["value"] == {"n": 1}
    wait_until(lambda: "DELIVERED" in _states(live.devserver, result.id), timeout=10)
    (delivered,) = [
        e for e in live.devserver.events(messageId=result.id) if e["state"] == "DELIVERED"
    ]
    assert delivered["url"] == live.webhook_url
    assert delivered["responseStatus"] == 200


def test_failure_then_success_on_retry(live: DjangoServer):
    from example.tasks import fail_until

    key = _key()
    result = fail_until.delay(key, 2)
    runs = live.wait_for_runs(2, task="fail_until", key=key)
    assert len(runs) == 2
    wait_until(lambda: "DELIVERED" in _states(live.devserver, result.id), timeout=10)
    states = _states(live.devserver, result.id)
    assert states == ["CREATED", "ACTIVE", "RETRY", "ACTIVE", "DELIVERED"]
    (retry,) = [e for e in live.devserver.events(messageId=result.id) if e["state"] == "RETRY"]
    assert retry["responseStatus"] >= 500


def test_non_retryable_failure_lands_in_the_dlq(live: DjangoServer):
    from example.tasks import always_fails

    key = _key()
    result = always_fails.delay(key)
    live.wait_for_runs(1, task="always_fails", key=key)
    entry = wait_until(
        lambda: (live.devserver.dlq(messageId=result.id) or [None])[0],
        timeout=15,
        message="the failed task in the DLQ",
    )
    # max_retries=0 is published as Upstash-Retries: 0: one attempt, then the DLQ.
    assert entry["maxRetries"] == 0
    assert entry["url"] == live.webhook_url
    answer = json.loads(entry["responseBody"])
    # The webhook's answer for a task that raised on its final attempt.
    assert entry["responseStatus"] in (489, 500), entry
    assert "fails for good" in answer.get("error", ""), answer
    assert len(live.task_runs("always_fails", key)) == 1
    assert _states(live.devserver, result.id)[-1] == "FAILED"


def test_countdown(live: DjangoServer):
    from example.tasks import record

    key = _key()
    result = record.apply_async(args=[key], countdown=2)
    message = live.devserver.client().message.get(result.id)
    assert message.not_before - message.created_at >= 2000
    assert live.task_runs("record", key) == []
    live.wait_for_runs(1, task="record", key=key, timeout=15)
    (active,) = [e for e in live.devserver.events(messageId=result.id) if e["state"] == "ACTIVE"]
    assert active["time"] >= message.not_before


def test_schedule_fires(live: DjangoServer):
    key = _key()
    body = envelope.build("example.tasks.record", [key, "scheduled"], {})
    client = live.devserver.client()
    schedule_id = client.schedule.create(
        destination=live.webhook_url,
        cron="* * * * *",  # a cron minute lasts 1 s on the test dev server (--cron-tick 1)
        body=body,
        content_type="application/json",
    )
    try:
        (run,) = live.wait_for_runs(1, task="record", key=key, timeout=15)[:1]
        assert run["value"] == "scheduled"
        delivered = wait_until(
            lambda: [
                e
                for e in live.devserver.events(scheduleId=schedule_id)
                if e["state"] == "DELIVERED"
            ],
            timeout=10,
        )
        assert delivered[0]["scheduleId"] == schedule_id
    finally:
        client.schedule.delete(schedule_id)


def test_bound_task_sees_its_delivery(live: DjangoServer):
    from example.tasks import bound_info

    key = _key()
    result = bound_info.delay(key)
    (run,) = live.wait_for_runs(1, task="bound_info", key=key)
    assert run["value"]["id"] == result.id
    assert run["value"]["retries"] == 0
