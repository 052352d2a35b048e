"""Core's AsyncResult reads the results app's store; without the app it says what to install."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_qstash import AsyncResult, hooks, shared_task
from django_qstash.results.models import TaskResult, TaskStatus
from example.models import TaskRun
from example.tasks import record

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claim_mode")]


def test_status_and_result_follow_the_delivery(deliver):
    result = AsyncResult("msg_r1")
    assert result.status == "PENDING"
    assert (result.ready(), result.successful(), result.failed()) == (False, False, False)
    deliver("example.tasks.record", "r1", message_id="msg_r1")
    assert result.status == "SUCCESS"
    assert result.result == "r1"
    assert (result.ready(), result.successful(), result.failed()) == (True, True, False)
    assert result.get(timeout=1) == "r1"


def test_a_failed_task_reraises_its_exception(deliver):
    body = hooks.build_message("example.tasks.always_fails", ["r2"], {}, {"max_retries": 0})
    deliver("", body=body, message_id="msg_r2")
    result = AsyncResult("msg_r2")
    assert result.status == "FAILURE"
    assert (result.ready(), result.successful(), result.failed()) == (True, False, True)
    assert isinstance(result.result, ValueError)
    assert "r2 fails for good" in str(result.result)
    assert "ValueError: r2 fails for good" in (result.traceback or "")
    with pytest.raises(ValueError, match="r2 fails for good"):
        result.get(timeout=1)
    assert isinstance(result.get(timeout=1, propagate=False), ValueError)


def test_get_times_out_while_the_task_has_not_finished(store, claim_mode):
    store.claim(hooks.Delivery("msg_r3", "example.tasks.record", ["r3"], {}))
    result = AsyncResult("msg_r3")
    # Lock mode stores STARTED only with DJANGO_QSTASH_RESULTS_TRACK_STARTED.
    assert result.status == ("STARTED" if claim_mode == "row" else "PENDING")
    assert not result.ready()
    with pytest.raises(hooks.DjangoQStashError, match="did not finish within"):
        result.get(timeout=0.05, interval=0.01)


def test_delay_returns_a_result_that_reads_the_store(qstash):
    result = record.delay("r4")
    assert result.id == "msg_recorded"
    assert result.status == "PENDING"
    assert not TaskResult.objects.exists()  # PENDING rows are opt-in


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_delay_writes_a_pending_row_when_the_project_opts_in(qstash):
    result = record.delay("r5", value=[1])
    row = TaskResult.objects.get(task_id=result.id)
    assert (row.status, row.task_name, row.args, row.kwargs) == (
        TaskStatus.PENDING,
        "example.tasks.record",
        ["r5"],
        {"value": [1]},
    )
    assert row.date_started is None
    assert row.attempts == 0


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_ignore_result_publishes_without_a_pending_row(qstash):
    record.apply_async(["r6"], ignore_result=True)
    assert not TaskResult.objects.exists()


@pytest.mark.parametrize(
    "read",
    [
        lambda r: r.status,
        lambda r: r.result,
        lambda r: r.get(timeout=0.01),
        lambda r: r.ready(),
        lambda r: r.successful(),
        lambda r: r.failed(),
    ],
    ids=["status", "result", "get", "ready", "successful", "failed"],
)
def test_without_the_results_app_every_lookup_names_the_app_to_install(no_store, read):
    with pytest.raises(hooks.ResultBackendNotConfigured) as info:
        read(AsyncResult("msg_x"))
    message = str(info.value)
    assert "django_qstash.results" in message
    assert "INSTALLED_APPS" in message
    assert "pip install django-qstash-results" in message


@shared_task
def flaky_once(key: str) -> str:
    if TaskRun.objects.filter(key=key).exists():
        return "second time lucky"
    TaskRun.objects.create(task="flaky_once", key=key)
    # What Task.retry() raises once it has published the next attempt as a new message.
    raise hooks.Retry(exc=ConnectionError("flaky"), when=5)


def test_the_result_of_the_first_message_follows_retry_to_the_last_attempt(deliver):
    first = deliver(flaky_once.name, "r7", message_id="msg_first")
    assert first.json()["status"] == "retry"
    result = AsyncResult("msg_first")
    assert result.status == "RETRY"
    assert not result.ready()
    # The next attempt: a new message that carries the first one's task id.
    body = hooks.build_message(flaky_once.name, ["r7"], {}, {"task_id": "msg_first", "retries": 1})
    assert deliver("", body=body, message_id="msg_second").status_code == 200
    assert result.status == "SUCCESS"
    assert result.get(timeout=1) == "second time lucky"


def test_an_expired_message_reads_as_a_failure(deliver):
    from django_qstash.results.exceptions import TaskExpired

    body = hooks.build_message(
        "example.tasks.record", ["r8"], {}, {"expires": "2000-01-01T00:00:00+00:00"}
    )
    response = deliver("", body=body, message_id="msg_expired")
    assert (response.status_code, response.json()["status"]) == (200, "expired")
    result = AsyncResult("msg_expired")
    assert result.failed()
    with pytest.raises(TaskExpired, match="expired at 2000-01-01"):
        result.get(timeout=1)
