"""The webhook with the results app installed, through Django's test client: delivery -> row."""

from __future__ import annotations

import datetime
import decimal
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import override_settings

from django_qstash import hooks, shared_task
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus
from example.models import TaskRun
from tests.results.conftest import body_for, new_message_id, results_sql_fails
from tests.support.signing import make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claim_mode")]


@shared_task
def returns_decimal() -> Any:
    return {"amount": decimal.Decimal("1.10"), "when": datetime.date(2024, 5, 6)}


@shared_task
def retries_itself(key: str) -> None:
    TaskRun.objects.create(task="retries_itself", key=key)
    # What Task.retry() raises once it has published the next attempt as a new message.
    raise hooks.Retry(exc=ConnectionError("flaky"), when=5)


def runs(key: str) -> int:
    return TaskRun.objects.filter(key=key).count()


def test_a_delivery_runs_the_task_and_stores_the_outcome(deliver):
    response = deliver("example.tasks.record", "k1", value={"n": 1}, message_id="msg_a")
    assert response.status_code == 200
    assert response.json()["stored"] is True
    assert runs("k1") == 1
    r = TaskResult.objects.get(task_id="msg_a")
    assert (r.task_name, r.status, r.result, r.attempts) == (
        "example.tasks.record",
        TaskStatus.SUCCESS,
        "k1",
        1,
    )
    assert (r.args, r.kwargs) == (["k1"], {"value": {"n": 1}})
    assert r.date_started is not None
    assert r.date_done is not None
    assert r.duration is not None
    assert SeenSignature.objects.filter(task_id="msg_a").count() == 1


def test_a_redelivered_message_that_succeeded_is_answered_200_without_running(deliver):
    assert deliver("example.tasks.record", "k2", message_id="msg_b").status_code == 200
    again = deliver("example.tasks.record", "k2", message_id="msg_b", retried=1)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate", "task_id": "msg_b"}
    assert runs("k2") == 1
    assert TaskResult.objects.get(task_id="msg_b").attempts == 1


def test_a_failure_is_retried_by_qstash_and_the_row_follows_each_attempt(deliver):
    first = deliver("example.tasks.fail_until", "k3", 2, message_id="msg_c")
    assert first.status_code == 500
    r = TaskResult.objects.get(task_id="msg_c")
    assert (r.status, r.attempts, r.exception_type) == (
        TaskStatus.RETRY,
        1,
        "builtins.RuntimeError",
    )
    assert "attempt 1 of k3 fails on purpose" in r.exception_message
    assert 'raise RuntimeError(f"attempt' in r.traceback
    second = deliver("example.tasks.fail_until", "k3", 2, message_id="msg_c", retried=1)
    assert second.status_code == 200
    r.refresh_from_db()
    assert (r.status, r.attempts, r.result, r.exception_type) == (TaskStatus.SUCCESS, 2, 2, "")
    assert runs("k3") == 2


def test_the_final_failure_is_stored_as_failure_with_the_full_traceback(deliver):
    # always_fails has max_retries=0, which its published messages carry.
    body = hooks.build_message("example.tasks.always_fails", ["k4"], {}, {"max_retries": 0})
    response = deliver("", body=body, message_id="msg_d")
    assert response.status_code >= 400  # core's answer to a last failure (489 or 500)
    assert response.json()["final"] is True
    r = TaskResult.objects.get(task_id="msg_d")
    assert r.status == TaskStatus.FAILURE
    assert r.exception_type == "builtins.ValueError"
    assert r.traceback.startswith("Traceback (most recent call last):")
    assert "ValueError: k4 fails for good" in r.traceback


def test_a_task_that_republishes_itself_is_stored_as_retry(deliver):
    response = deliver(retries_itself.name, "k5", message_id="msg_e")
    assert response.status_code == 200
    assert response.json()["status"] == "retry"
    r = TaskResult.objects.get(task_id="msg_e")
    assert (r.status, r.republished) == (TaskStatus.RETRY, True)
    assert r.exception_type == "builtins.ConnectionError"
    again = deliver(retries_itself.name, "k5", message_id="msg_e", retried=1)
    assert again.json()["status"] == "duplicate"
    assert runs("k5") == 1


def test_a_return_value_that_is_not_json_never_fails_the_delivery(deliver, caplog):
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        response = deliver(returns_decimal.name, message_id="msg_f")
    assert response.status_code == 200
    r = TaskResult.objects.get(task_id="msg_f")
    assert r.status == TaskStatus.SUCCESS
    assert r.result_is_repr is True
    assert r.result == "{'amount': Decimal('1.10'), 'when': datetime.date(2024, 5, 6)}"
    assert "not JSON-serialisable" in caplog.text


def test_the_schedule_id_is_stored(deliver):
    deliver("example.tasks.record", "k6", message_id="msg_g", schedule_id="scd_nightly")
    assert TaskResult.objects.get(task_id="msg_g").schedule_id == "scd_nightly"


def test_ignore_result_stores_the_status_without_the_value(deliver):
    @shared_task(ignore_result=True, name="tests.results.quiet")
    def quiet() -> str:
        return "secret"

    deliver(quiet.name, message_id="msg_h")
    r = TaskResult.objects.get(task_id="msg_h")
    assert (r.status, r.result) == (TaskStatus.SUCCESS, None)


# ------------------------------------------------------------------------------ replays


def test_a_replayed_request_never_runs_the_task_again(deliver):
    body = body_for("example.tasks.record", "k7")
    token = make_token(body, hooks.webhook_url())
    first = deliver("", body=body, token=token, message_id="msg_i")
    assert first.status_code == 200
    same = deliver("", body=body, token=token, message_id="msg_i")
    assert (same.status_code, same.json()["status"]) == (403, "replayed")
    other_id = deliver("", body=body, token=token, message_id=new_message_id(), retried=2)
    assert (other_id.status_code, other_id.json()["status"]) == (403, "replayed")
    assert runs("k7") == 1
    assert TaskResult.objects.count() == 1


# ------------------------------------------------------------------------------ database failures


@contextmanager
def results_database_down(*, once_the_task_started: bool) -> Iterator[None]:
    """Every statement on the results app's tables fails, from the start or once the task runs
    (the task's own writes, to other tables, still work)."""
    state = {"down": not once_the_task_started}

    def started(sender: Any, **kwargs: Any) -> None:
        state["down"] = True

    hooks.task_started.connect(started, dispatch_uid="results-down")
    try:
        with results_sql_fails(lambda sql: state["down"]):
            yield
    finally:
        hooks.task_started.disconnect(dispatch_uid="results-down")


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_when_the_success_cannot_be_stored_the_answer_carries_it_and_it_never_reruns(
    deliver, caplog, claim_mode
):
    with (
        caplog.at_level(logging.WARNING, logger="django_qstash"),
        results_database_down(once_the_task_started=True),
    ):
        response = deliver("example.tasks.record", "k8", message_id="msg_j")
    # The task ran: 200 (so QStash does not deliver it again), with the outcome in the body,
    # which QStash keeps in its logs, and in the error log.
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "task_id": "msg_j",
        "result": "k8",
        "stored": False,
    }
    assert "could not store the outcome of example.tasks.record[msg_j]: SUCCESS 'k8'" in (
        caplog.text
    )
    assert "OperationalError" in caplog.text
    if claim_mode == "row":  # the claim's STARTED row and jti were committed before the run
        assert TaskResult.objects.get(task_id="msg_j").status == TaskStatus.STARTED
        assert "its STARTED row holds the message" in caplog.text
    else:  # nothing was written; the locks and the outcome are kept
        assert not TaskResult.objects.exists()
        assert "stay locked until" in caplog.text
    # The database is back. Should QStash deliver the message again anyway, it does not run:
    # row mode turns it away for the lease; lock mode first writes the kept outcome.
    again = deliver("example.tasks.record", "k8", message_id="msg_j", retried=1)
    if claim_mode == "row":
        assert (again.status_code, again.json()["status"]) == (409, "in_progress")
    else:
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        assert TaskResult.objects.get(task_id="msg_j").status == TaskStatus.SUCCESS
    assert runs("k8") == 1


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_when_a_failure_cannot_be_stored_qstash_still_retries(deliver, caplog):
    with (
        caplog.at_level(logging.ERROR, logger="django_qstash"),
        results_database_down(once_the_task_started=True),
    ):
        response = deliver("example.tasks.fail_until", "k9", 5, message_id="msg_k")
    assert response.status_code == 500
    assert response.json()["stored"] is False
    assert "could not store the outcome of example.tasks.fail_until[msg_k]: FAILURE" in (
        caplog.text
    )


@pytest.mark.django_db(transaction=True)  # autocommit, as in production
def test_when_the_claim_fails_nothing_runs_and_qstash_retries(deliver):
    with results_database_down(once_the_task_started=False):
        response = deliver("example.tasks.record", "k10", message_id="msg_l")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["status"] == "store_unavailable"
    assert runs("k10") == 0
    assert not TaskResult.objects.exists()
    assert not SeenSignature.objects.exists()
    # Once the database is back, QStash's retry runs it.
    assert deliver("example.tasks.record", "k10", message_id="msg_l", retried=1).status_code == 200
    assert runs("k10") == 1


@pytest.mark.parametrize("claim_mode", ["row"], indirect=True)
@override_settings(DJANGO_QSTASH_RESULTS_STARTED_LEASE=0)
def test_after_the_lease_a_message_whose_worker_died_runs_again(deliver, store):
    store.claim(
        hooks.Delivery(
            message_id="msg_m", task_name="example.tasks.record", args=["k11"], kwargs={}
        )
    )
    response = deliver("example.tasks.record", "k11", message_id="msg_m", retried=1)
    assert response.status_code == 200
    assert runs("k11") == 1
    assert TaskResult.objects.get(task_id="msg_m").attempts == 2
