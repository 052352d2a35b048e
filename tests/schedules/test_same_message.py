"""A schedule's message is the message ``.delay()`` publishes for the same call, compared on the
dev server (what QStash holds for each), and "run now" is recorded like any publish.

The task below has every option that becomes part of the delivery: flow control from
``rate_limit``, the retry delay and retries from autoretry, ``time_limit``, forwarded headers, a
label and a queue. The queue is paused on the dev server, so nothing is delivered (the message
stays there to be read) while the test compares.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_qstash import hooks, shared_task
from django_qstash.schedules import sync
from django_qstash.schedules.models import TaskSchedule

pytestmark = [pytest.mark.slow, pytest.mark.django_db, pytest.mark.usefixtures("no_auto_sync")]

QUEUE = "schedule-compare"


@shared_task(
    rate_limit="12/m",
    autoretry_for=(ConnectionError,),
    retry_kwargs={"max_retries": 4, "countdown": 45},
    time_limit=30,
    headers={"X-Tenant": "acme"},
    label="nightly-report",
    queue=QUEUE,
)
def nightly_report(day: str, pages: int = 1) -> str:
    return f"{day}:{pages}"


#: What a delivery is made of, as the dev server's API shows a message and a schedule.
DELIVERY_FIELDS = (
    "body",
    "header",
    "timeout",
    "retryDelayExpression",
    "flowControlKey",
    "rate",
    "period",
    "label",
)


@pytest.fixture
def paused(on_devserver: Any) -> Iterator[Any]:
    sdk = on_devserver.client()
    sdk.queue.upsert(QUEUE, parallelism=1)
    sdk.queue.pause(QUEUE)
    try:
        yield on_devserver
    finally:
        sdk.queue.delete(QUEUE)


def stored(server: Any, path: str) -> dict[str, Any]:
    response = server.http.get(path)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def delivery(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data.get(name) for name in DELIVERY_FIELDS}


def make_report_schedule() -> TaskSchedule:
    return TaskSchedule.objects.create(
        name=f"same-{uuid.uuid4().hex[:6]}",
        task_name=nightly_report.name,
        cron="0 0 1 1 *",
        args=["2026-12-06"],
        kwargs={"pages": 3},
    )


def test_a_schedule_carries_exactly_what_delay_publishes(paused):
    published = nightly_report.delay("2026-12-06", pages=3)
    schedule = make_report_schedule()
    assert sync.sync_schedule(schedule) is None

    message = stored(paused, f"/v2/messages/{published.id}")
    remote = stored(paused, f"/v2/schedules/{schedule.schedule_id}")
    assert delivery(remote) == delivery(message)
    assert remote["destination"] == message["url"] == hooks.webhook_url()
    assert remote["retries"] == message["maxRetries"] == 4
    assert remote["queueName"] == message["queueName"] == QUEUE
    # What the task's options become, on both:
    assert delivery(message) | {"body": None} == {
        "body": None,
        "header": {"Content-Type": ["application/json"], "X-Tenant": ["acme"]},
        "timeout": 30,
        "retryDelayExpression": "45000",  # retry_kwargs countdown, in ms
        "flowControlKey": nightly_report.name,
        "rate": 12,
        "period": 60,
        "label": "nightly-report",
    }
    assert (
        message["body"]
        == hooks.build_message(
            nightly_report.name, ["2026-12-06"], {"pages": 3}, {"max_retries": 4}
        ).decode()
    )


def test_run_now_publishes_the_same_message_and_says_so(paused):
    heard: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append({"sender": sender, **kwargs})

    hooks.message_published.connect(receiver)
    try:
        published = nightly_report.delay("2026-12-06", pages=3)
        schedule = make_report_schedule()
        message_id = sync.run_now(schedule)
    finally:
        hooks.message_published.disconnect(receiver)

    assert [event["message_id"] for event in heard] == [published.id, message_id]
    run_now = heard[1]
    assert run_now["sender"] is nightly_report
    assert (run_now["task_name"], run_now["args"], run_now["kwargs"]) == (
        nightly_report.name,
        ["2026-12-06"],
        {"pages": 3},
    )
    by_delay = stored(paused, f"/v2/messages/{published.id}")
    by_run_now = stored(paused, f"/v2/messages/{message_id}")
    assert delivery(by_run_now) == delivery(by_delay)
    assert by_run_now["queueName"] == QUEUE


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_run_now_leaves_a_pending_result_as_delay_does(paused):
    from django_qstash.results.models import TaskResult

    published = nightly_report.delay("2026-12-06", pages=3)
    message_id = sync.run_now(make_report_schedule())
    rows = {
        row.task_id: (row.task_name, row.status, row.args, row.kwargs)
        for row in TaskResult.objects.filter(task_id__in=[published.id, message_id])
    }
    expected = (nightly_report.name, "PENDING", ["2026-12-06"], {"pages": 3})
    assert rows == {published.id: expected, message_id: expected}
