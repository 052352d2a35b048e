"""End to end: enqueue here -> the dev server (a real QStash peer) -> the sample project under
gunicorn -> the task ran there, counted in its database.

The same function is written once with Django's ``@task`` (``example.django_tasks.record_task``)
and once with ``@shared_task`` (``example.tasks.record``).
"""

from __future__ import annotations

import uuid

import pytest

from example.django_tasks import async_triple, fail_until_attempt, record_task
from example.tasks import record
from tests.support.devserver import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def results_row(server, message_id):
    rows = server.query(
        "SELECT status, result, attempts FROM django_qstash_results_taskresult WHERE task_id = ?",
        (message_id,),
    )
    return rows[0] if rows else None


def test_a_task_written_with_task_and_with_shared_task_both_run(django_server, publish_via):
    publish_via(django_server)
    key = f"e2e-{uuid.uuid4().hex[:8]}"

    result = record_task.enqueue(key, value={"via": "@task"})
    async_result = record.delay(key, value={"via": "@shared_task"})

    (task_run,) = django_server.wait_for_runs(1, task="django_tasks.record_task", key=key)
    (shared_run,) = django_server.wait_for_runs(1, task="record", key=key)
    assert task_run["value"] == {"via": "@task"}
    assert shared_run["value"] == {"via": "@shared_task"}
    # Each was delivered as its own QStash message; the result id is that message id.
    assert result.id != async_result.id
    assert result.id.startswith("msg_")
    wait_until(
        lambda: "DELIVERED" in django_server.devserver.message_states(result.id),
        message="the dev server to log the delivery",
    )

    def stored():
        row = results_row(django_server, result.id)
        return row if row and row[0] == "SUCCESS" else None

    status, value, attempts = wait_until(stored, message="the stored result")
    assert (status, value, attempts) == ("SUCCESS", f'"{key}"', 1)


def test_qstash_retries_a_failing_task_and_the_context_counts_the_attempts(
    django_server, publish_via
):
    publish_via(django_server)
    key = f"e2e-retry-{uuid.uuid4().hex[:8]}"
    result = fail_until_attempt.using(max_retries=3).enqueue(key, 3)
    runs = django_server.wait_for_runs(3, task="django_tasks.fail_until_attempt", key=key)
    assert [run["value"] for run in runs] == [
        {"attempt": n, "result_id": result.id} for n in (1, 2, 3)
    ]


def test_an_async_task_and_a_queue(django_server, publish_via):
    publish_via(django_server)
    key = f"e2e-queue-{uuid.uuid4().hex[:8]}"
    queued = record_task.using(queue_name="emails").enqueue(key, value="queued")
    async_result = async_triple.enqueue(14)
    django_server.wait_for_runs(1, task="django_tasks.record_task", key=key)
    events = django_server.devserver.events(messageId=queued.id)
    assert any(event.get("queueName") == "emails" for event in events)

    row = wait_until(
        lambda: (r := results_row(django_server, async_result.id)) and r[0] == "SUCCESS" and r,
        message="the async task's result",
    )
    assert row[1] == "42"
