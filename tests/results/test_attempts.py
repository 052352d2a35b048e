"""Each failed attempt's error is kept on the row (the attempts history)."""

from __future__ import annotations

import uuid

import pytest

from django_qstash.results.attempts import MAX_KEPT, MAX_MESSAGE
from django_qstash.results.models import TaskResult, TaskStatus
from tests.results.conftest import new_message_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("claim_mode")]


def test_a_task_that_succeeds_on_its_third_attempt_keeps_the_two_errors(deliver):
    key = uuid.uuid4().hex
    message_id = new_message_id()
    for retried in (0, 1):
        response = deliver(
            "example.tasks.fail_until", key, 3, message_id=message_id, retried=retried
        )
        assert response.status_code == 500
    row = TaskResult.objects.get(task_id=message_id)
    assert row.status == TaskStatus.RETRY
    assert [e["attempt"] for e in row.attempt_errors] == [1, 2]

    assert (
        deliver("example.tasks.fail_until", key, 3, message_id=message_id, retried=2).status_code
        == 200
    )
    row.refresh_from_db()
    assert (row.status, row.attempts, row.result) == (TaskStatus.SUCCESS, 3, 3)
    assert [(e["attempt"], e["type"]) for e in row.attempt_errors] == [
        (1, "builtins.RuntimeError"),
        (2, "builtins.RuntimeError"),
    ]
    assert row.attempt_errors[0]["message"] == f"attempt 1 of {key} fails on purpose"
    assert row.attempt_errors[1]["message"] == f"attempt 2 of {key} fails on purpose"
    assert all(e["at"] for e in row.attempt_errors)


def test_a_redelivered_attempt_is_not_counted_twice_and_the_final_failure_is_kept(deliver):
    key = uuid.uuid4().hex
    message_id = new_message_id()
    # The same attempt delivered twice (QStash lost the first answer), then the last one.
    deliver("example.tasks.fail_until", key, 9, message_id=message_id, retried=0)
    deliver("example.tasks.fail_until", key, 9, message_id=message_id, retried=0)
    deliver("example.tasks.fail_until", key, 9, message_id=message_id, retried=3)
    row = TaskResult.objects.get(task_id=message_id)
    assert row.status == TaskStatus.FAILURE
    assert [e["attempt"] for e in row.attempt_errors] == [1, 4]


def test_the_history_stays_small(deliver):
    message_id = new_message_id()
    long = "x" * (MAX_MESSAGE * 2)
    for retried in range(MAX_KEPT + 5):
        deliver("example.tasks.fail_until", long, 10_000, message_id=message_id, retried=retried)
    row = TaskResult.objects.get(task_id=message_id)
    assert len(row.attempt_errors) == MAX_KEPT
    assert row.attempt_errors[-1]["attempt"] == MAX_KEPT + 5
    assert all(len(e["message"]) <= MAX_MESSAGE for e in row.attempt_errors)
