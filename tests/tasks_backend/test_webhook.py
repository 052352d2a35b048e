"""@task functions delivered to the webhook: they run, get their context, and send the signals."""

from __future__ import annotations

import pytest
from django.test import override_settings

from django_qstash import hooks
from django_qstash.backends import QStashBackend, worker_id
from django_qstash.tasks_compat import TaskResultStatus
from tests.tasks_backend import tasks


@pytest.fixture
def enqueue_and_deliver(qstash, deliver_body):
    """Enqueue through the backend, then deliver what was published, as QStash would."""

    def run(task, *args, retried=0, message_id=None, **kwargs):
        result = task.enqueue(*args, **kwargs)
        body = qstash.requests[-1].body
        return result, deliver_body(body, retried=retried, message_id=message_id)

    return run


pytestmark = pytest.mark.usefixtures("no_result_store")


def test_an_enqueued_task_runs_when_delivered(enqueue_and_deliver):
    _, delivered = enqueue_and_deliver(tasks.add, 2, b=3)
    assert delivered.status_code == 200
    assert delivered.body["status"] == "success"
    assert delivered.body["result"] == 5
    assert tasks.calls == [("add", 2, 3)]


def test_the_context_attempt_comes_from_upstash_retried(enqueue_and_deliver):
    _, delivered = enqueue_and_deliver(
        tasks.context_info, "ctx", retried=2, message_id="msg_context"
    )
    assert delivered.status_code == 200
    info = delivered.body["result"]
    assert info["attempt"] == 3
    assert info["id"] == "msg_context"
    assert info["status"] == "RUNNING"
    assert info["worker_ids"] == ["unknown", "unknown", worker_id()]


def test_the_first_delivery_is_attempt_one(enqueue_and_deliver):
    _, delivered = enqueue_and_deliver(tasks.context_info, "first")
    assert delivered.body["result"]["attempt"] == 1


def test_started_and_finished_are_sent_around_the_run(enqueue_and_deliver, task_signals):
    _, delivered = enqueue_and_deliver(tasks.add, 1, 1, message_id="msg_signals")
    assert task_signals.names == ["enqueued", "started", "finished"]
    _, started, finished = task_signals.seen
    assert started.sender is finished.sender is QStashBackend
    assert (started.status, started.attempts) == ("RUNNING", 1)
    assert (finished.status, finished.attempts) == ("SUCCESSFUL", 1)
    result = finished.result
    assert result is started.result
    assert result.id == "msg_signals"
    assert result.task.func is tasks.add.func
    assert result.return_value == 2
    assert result.started_at <= result.finished_at
    assert result.backend == "default"


def test_a_failure_is_reported_failed_and_answered_so_qstash_retries(
    enqueue_and_deliver, task_signals
):
    _, delivered = enqueue_and_deliver(tasks.explode.using(max_retries=2), "nope", retried=1)
    assert delivered.status_code == 500
    assert delivered.body["status"] == "failure"
    assert delivered.body["error"] == "ValueError: nope"
    assert delivered.body["final"] is False
    finished = task_signals.of("finished")[0]
    assert finished.status == "FAILED"
    assert finished.attempts == 2
    (error,) = finished.result.errors
    assert error.exception_class is ValueError
    assert "ValueError: nope" in error.traceback
    assert finished.result.finished_at is not None


def test_the_last_attempt_is_final(enqueue_and_deliver):
    _, delivered = enqueue_and_deliver(tasks.explode.using(max_retries=1), retried=1)
    assert delivered.body["final"] is True


def test_django_logs_a_failed_task_with_its_traceback(enqueue_and_deliver, caplog):
    enqueue_and_deliver(tasks.explode, "logged")
    records = [r for r in caplog.records if r.name in ("django.tasks", "django_tasks")]
    failed = [r for r in records if r.levelname == "ERROR"]
    assert failed, [r.getMessage() for r in records]
    assert "state=FAILED" in failed[-1].getMessage()


def test_async_tasks_run(enqueue_and_deliver):
    _, delivered = enqueue_and_deliver(tasks.async_add, 20, 22)
    assert delivered.body["result"] == 42


def test_a_return_value_that_is_not_json_fails_the_task_as_in_django(
    enqueue_and_deliver, task_signals
):
    _, delivered = enqueue_and_deliver(tasks.returns_a_set)
    assert delivered.status_code == 500
    assert task_signals.of("finished")[0].result.errors[0].exception_class is TypeError


def test_arguments_that_do_not_fit_are_refused_without_retries(deliver_body):
    body = hooks.build_message(tasks.context_info.module_path, ["k", "extra"])
    delivered = deliver_body(body)
    assert delivered.status_code == 489
    assert delivered.body["status"] == "bad_arguments"


def test_a_raising_signal_receiver_changes_nothing(enqueue_and_deliver, caplog):
    from django_qstash.tasks_compat import task_started

    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    task_started.connect(broken, weak=False)
    try:
        _, delivered = enqueue_and_deliver(tasks.add, 1, 2)
    finally:
        task_started.disconnect(broken)
    assert delivered.status_code == 200
    assert "receiver bug" in caplog.text


def test_the_webhook_runs_a_task_whose_module_was_imported_but_not_enqueued_here(deliver_body):
    # The webhook process never called enqueue: importing the module registered the task.
    body = hooks.build_message("tests.tasks_backend.tasks.add", [4, 5])
    assert deliver_body(body).body["result"] == 9


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
@pytest.mark.django_db
def test_with_the_results_app_a_result_can_be_read_and_refreshed(qstash, deliver_body):
    from django_qstash.results.store import DatabaseResultStore

    hooks.register_result_store(DatabaseResultStore())
    try:
        qstash.answer = (200, {"messageId": "msg_refresh"}, {})
        result = tasks.add.enqueue(20, 1)
        enqueued_at = result.enqueued_at
        pending = tasks.add.get_result(result.id)
        assert pending.status == TaskResultStatus.READY
        # Before the first delivery: the PENDING row's time, written just after enqueue().
        assert pending.enqueued_at >= enqueued_at
        delivered = deliver_body(qstash.requests[-1].body, message_id=result.id)
        assert delivered.status_code == 200
        result.refresh()
        assert result.enqueued_at == enqueued_at  # the time the message carried
        assert result.status == TaskResultStatus.SUCCESSFUL
        assert result.return_value == 21
        assert result.finished_at is not None
    finally:
        hooks.unregister_result_store()


@pytest.mark.parametrize("record", ["garbage", {"queue_name": 7, "enqueued_at": 1}])
def test_a_message_with_a_malformed_django_task_record_still_runs(deliver_body, record):
    # Messages built elsewhere (another SDK) may carry anything there: the task as defined runs.
    body = hooks.build_message(
        tasks.context_info.module_path, ["k"], options={"django_task": record}
    )
    delivered = deliver_body(body)
    assert delivered.status_code == 200
    assert delivered.body["result"]["key"] == "k"
