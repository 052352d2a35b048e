"""get_result: the result store's rows mapped onto django.tasks' TaskResult and statuses."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from django.utils import timezone

from django_qstash import hooks, shared_task
from django_qstash.tasks_compat import TaskResultDoesNotExist, TaskResultStatus
from tests.tasks_backend import tasks

if True:  # the framework's own names, as a project would import them
    try:
        from django.tasks import default_task_backend
        from django.tasks.exceptions import TaskResultMismatch
    except ImportError:
        from django_tasks import default_task_backend
        from django_tasks.exceptions import TaskResultMismatch

DONE = timezone.now()


@shared_task
def shared_thing() -> None:
    pass


def stored(status: str, **fields) -> hooks.StoredResult:
    values = {
        "task_id": "msg_1",
        "task_name": tasks.add.module_path,
        "status": status,
        "args": [1, 2],
        "kwargs": {},
        "attempts": 1,
    }
    values.update(fields)
    return hooks.StoredResult(**values)


@pytest.mark.parametrize(
    ("status", "expected", "finished"),
    [
        ("PENDING", TaskResultStatus.READY, False),
        ("STARTED", TaskResultStatus.RUNNING, False),
        ("RETRY", TaskResultStatus.READY, False),
        ("SUCCESS", TaskResultStatus.SUCCESSFUL, True),
        ("FAILURE", TaskResultStatus.FAILED, True),
    ],
)
def test_statuses_map_onto_django_statuses(fake_store, status, expected, finished):
    fake_store.results["msg_1"] = stored(status, date_done=DONE)
    result = tasks.add.get_result("msg_1")
    assert result.status == expected
    assert result.is_finished is finished
    assert result.finished_at == (DONE if finished else None)
    assert result.id == "msg_1"
    assert result.task.func is tasks.add.func
    assert result.args == [1, 2]
    assert result.backend == "default"


def test_a_success_carries_the_return_value_and_attempts(fake_store):
    fake_store.results["msg_1"] = stored("SUCCESS", result={"n": 3}, attempts=2, date_done=DONE)
    result = default_task_backend.get_result("msg_1")
    assert result.return_value == {"n": 3}
    assert result.attempts == 2
    assert result.errors == []


def test_a_failure_carries_the_error(fake_store):
    fake_store.results["msg_1"] = stored(
        "FAILURE",
        exception_type="builtins.ValueError",
        exception_message="nope",
        traceback="Traceback ...\nValueError: nope",
        attempts=4,
        date_done=DONE,
    )
    result = tasks.add.get_result("msg_1")
    (error,) = result.errors
    assert error.exception_class is ValueError
    assert error.traceback.endswith("ValueError: nope")
    assert result.attempts == 4
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value


def test_a_failure_waiting_for_a_retry_is_ready_with_its_error(fake_store):
    fake_store.results["msg_1"] = stored(
        "RETRY", exception_type="builtins.KeyError", exception_message="k", date_done=DONE
    )
    result = tasks.add.get_result("msg_1")
    assert result.status == TaskResultStatus.READY
    assert result.errors[0].exception_class is KeyError
    assert result.errors[0].traceback == "builtins.KeyError: k"


def test_timestamps_the_store_knows_are_used(fake_store):
    row = stored("STARTED")
    created = timezone.now() - datetime.timedelta(minutes=1)
    row.date_created = created  # type: ignore[attr-defined]
    row.date_started = DONE  # type: ignore[attr-defined]
    fake_store.results["msg_1"] = row
    result = tasks.add.get_result("msg_1")
    assert (result.enqueued_at, result.started_at, result.last_attempted_at) == (
        created,
        DONE,
        DONE,
    )


def test_an_unknown_id_does_not_exist(fake_store):
    with pytest.raises(TaskResultDoesNotExist):
        tasks.add.get_result("msg_missing")


def test_a_result_of_a_shared_task_is_not_a_django_task_result(fake_store):
    fake_store.results["msg_1"] = stored("SUCCESS", task_name=shared_thing.name)
    with pytest.raises(TaskResultDoesNotExist, match="not a django.tasks Task"):
        default_task_backend.get_result("msg_1")


def test_a_result_of_another_task_is_a_mismatch(fake_store):
    fake_store.results["msg_1"] = stored("SUCCESS")
    with pytest.raises(TaskResultMismatch):
        tasks.context_info.get_result("msg_1")


def test_refresh_reads_the_store_again(fake_store, qstash):
    result = tasks.add.enqueue(1, 2)
    assert result.status == TaskResultStatus.READY
    fake_store.results[result.id] = stored("SUCCESS", task_id=result.id, result=3, date_done=DONE)
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 3
    assert result.finished_at == DONE


def test_async_variants(fake_store):
    fake_store.results["msg_1"] = stored("SUCCESS", result=3)
    result = asyncio.run(tasks.add.aget_result("msg_1"))
    assert result.return_value == 3
    asyncio.run(result.arefresh())


def test_without_a_result_store_get_result_is_not_implemented(no_result_store):
    with pytest.raises(NotImplementedError, match="django_qstash.results"):
        tasks.add.get_result("msg_1")


def test_the_result_has_the_task_and_the_enqueue_time_the_message_carried(fake_store):
    enqueued = timezone.now() - datetime.timedelta(seconds=5)
    run_after = enqueued + datetime.timedelta(seconds=2)
    fake_store.results["msg_1"] = stored(
        "SUCCESS",
        result=3,
        date_created=enqueued + datetime.timedelta(seconds=1),  # the first delivery
        date_started=DONE,
        django_task={
            "enqueued_at": enqueued.isoformat(),
            "queue_name": "emails",
            "run_after": run_after.isoformat(),
            "max_retries": 1,
        },
    )
    result = tasks.add.get_result("msg_1")
    assert result.enqueued_at == enqueued
    assert result.task == tasks.add.using(queue_name="emails", run_after=run_after, max_retries=1)


def test_a_record_that_no_longer_fits_gives_the_task_as_defined(fake_store):
    # Its queue left QUEUES since: the result is still readable.
    fake_store.results["msg_1"] = stored("SUCCESS", django_task={"queue_name": "gone"})
    assert tasks.add.get_result("msg_1").task == tasks.add


def test_without_a_record_the_store_times_are_used(fake_store):
    created = timezone.now()
    fake_store.results["msg_1"] = stored("PENDING", date_created=created)
    result = tasks.add.get_result("msg_1")
    assert (result.enqueued_at, result.started_at, result.task) == (created, None, tasks.add)


@pytest.mark.parametrize("record", ["garbage", ["queue_name"], {"enqueued_at": "not a time"}])
def test_a_record_that_is_not_one_is_ignored(fake_store, record):
    created = timezone.now()
    fake_store.results["msg_1"] = stored("SUCCESS", date_created=created, django_task=record)
    result = tasks.add.get_result("msg_1")
    assert (result.task, result.enqueued_at) == (tasks.add, created)
