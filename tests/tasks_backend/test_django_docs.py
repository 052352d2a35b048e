"""Django's Tasks documentation, example by example, against QStashBackend.

Each message is published to a recording QStash and then delivered to the webhook through
Django's test client, as QStash would deliver it.
"""

from __future__ import annotations

import datetime
import logging
from functools import partial

import pytest
from django.core import mail
from django.db import transaction
from django.test import override_settings

from django_qstash import hooks
from django_qstash.tasks_compat import FRAMEWORK, InvalidTask, TaskResultStatus
from example.models import TaskRun
from tests.tasks_backend import docs_examples as docs

if FRAMEWORK == "django.tasks":
    from django.tasks import default_task_backend, task, task_backends
else:
    from django_tasks import default_task_backend, task, task_backends


@pytest.fixture
def qstash_loop(qstash, deliver_body):
    """Deliver the last published message: ``qstash_loop(retried=0) -> Delivered``."""

    def deliver_last(retried=0):
        # Under the message id the recorder answered the publish with, as QStash would.
        message_id = qstash.answer[1]["messageId"]
        return deliver_body(qstash.requests[-1].body, retried=retried, message_id=message_id)

    return deliver_last


@pytest.fixture
def database_results(db):
    from django_qstash.results.store import DatabaseResultStore

    previous = hooks.get_result_store()
    hooks.register_result_store(DatabaseResultStore())
    try:
        yield
    finally:
        hooks.unregister_result_store()
        if previous is not None:
            hooks.register_result_store(previous)


def answer_with(qstash, message_id):
    qstash.answer = (200, {"messageId": message_id}, {})


# ------------------------------------------------------------------ Configuring a Task backend


def test_retrieving_backends():
    from django_qstash.backends import QStashBackend

    assert isinstance(task_backends["default"], QStashBackend)
    assert default_task_backend.alias == "default"
    assert default_task_backend.supports_defer is True


# ------------------------------------------------------------------ Defining Tasks


def test_defining_and_enqueueing_email_users(qstash, qstash_loop, no_result_store):
    result = docs.email_users.enqueue(
        emails=["user@example.com"],
        subject="You have a message",
        message="Hello there!",
    )
    assert result.status == TaskResultStatus.READY
    delivered = qstash_loop()
    assert delivered.status_code == 200
    assert delivered.body["result"] == 1  # send_mail's count
    (email,) = mail.outbox
    assert (email.subject, email.to, email.body) == (
        "You have a message",
        ["user@example.com"],
        "Hello there!",
    )


def test_decorator_arguments_priority_is_refused_queue_name_is_honoured(qstash, no_result_store):
    # The docs' @task(priority=2, queue_name="emails"): QStash has no priorities, so this
    # backend refuses a non-zero priority (supports_priority = False).
    with pytest.raises(InvalidTask, match="priority"):
        task(priority=2, queue_name="emails")(docs.email_users.func)
    on_queue = task(queue_name="emails")(docs.email_users.func)
    on_queue.enqueue(emails=["a@example.com"], subject="s", message="m")
    assert qstash.requests[0].path.startswith("/v2/enqueue/emails/")


def test_task_context(qstash, qstash_loop, caplog, no_result_store):
    caplog.set_level(logging.DEBUG, logger=docs.__name__)
    docs.email_users_with_context.enqueue(emails=["u@example.com"], subject="s", message="m")
    delivered = qstash_loop(retried=1)
    assert delivered.status_code == 200
    message_id = qstash.answer[1]["messageId"]
    assert f"Attempt 2 to send user email. Task result id: {message_id}." in caplog.text
    assert len(mail.outbox) == 1


def test_modifying_tasks():
    assert docs.email_users.priority == 0
    # The docs' using(priority=10): refused here, as above.
    with pytest.raises(InvalidTask):
        docs.email_users.using(priority=10)
    modified = docs.email_users.using(queue_name="emails")
    assert modified.queue_name == "emails"
    assert docs.email_users.queue_name == "default"  # the original is left as-is


# ------------------------------------------------------------------ Enqueueing Tasks


def test_arguments_must_be_json(qstash):
    with pytest.raises(TypeError, match="datetime"):
        docs.process_data.enqueue(datetime.datetime.now())
    assert qstash.requests == []


def test_a_tuple_does_not_round_trip(qstash, qstash_loop, task_signals, no_result_store):
    docs.double_dictionary.enqueue((1, 2, 3))
    assert qstash.requests[0].json()["args"] == [[1, 2, 3]]
    delivered = qstash_loop()
    assert delivered.status_code == 500
    result = task_signals.of("finished")[0].result
    assert result.status == TaskResultStatus.FAILED
    assert "TypeError: unhashable type: 'list'" in result.errors[0].traceback


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_a_tuple_does_not_round_trip_eagerly_either():
    # As with the ImmediateBackend in the docs: the result says FAILED, nothing is raised.
    result = docs.double_dictionary.enqueue((1, 2, 3))
    assert result.status == TaskResultStatus.FAILED
    assert "TypeError: unhashable type: 'list'" in result.errors[0].traceback


@pytest.mark.django_db(transaction=True)
def test_transactions_enqueue_on_commit(qstash, qstash_loop, no_result_store):
    with transaction.atomic():
        TaskRun.objects.create(task="thing", key="1")
        transaction.on_commit(partial(docs.my_task.enqueue, thing_num=1))
        assert qstash.requests == []
    assert len(qstash.requests) == 1
    assert qstash_loop().status_code == 200


# ------------------------------------------------------------------ Task results


def test_get_result_on_the_task_and_on_the_backend(qstash, qstash_loop, database_results):
    answer_with(qstash, "msg_meaning")
    result = docs.calculate_meaning_of_life.enqueue()
    assert qstash_loop().status_code == 200
    result_id = result.id

    # Later, somewhere else...
    result = docs.calculate_meaning_of_life.get_result(result_id)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42
    assert default_task_backend.get_result(result_id).return_value == 42


def test_updating_results_running_then_successful(qstash, fake_store):
    # The store's row says the task is running; a result read now says RUNNING ...
    answer_with(qstash, "msg_running")
    docs.calculate_meaning_of_life.enqueue()
    fake_store.results["msg_running"] = hooks.StoredResult(
        task_id="msg_running",
        task_name=docs.calculate_meaning_of_life.module_path,
        status="STARTED",
        attempts=1,
    )
    result = docs.calculate_meaning_of_life.get_result("msg_running")
    assert result.status == TaskResultStatus.RUNNING
    with pytest.raises(ValueError, match="Task has not finished yet"):
        result.return_value
    # ... and does not change when the task finishes, until it is refreshed.
    fake_store.results["msg_running"] = hooks.StoredResult(
        task_id="msg_running",
        task_name=docs.calculate_meaning_of_life.module_path,
        status="SUCCESS",
        result=42,
        attempts=1,
    )
    assert result.status == TaskResultStatus.RUNNING
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 42


def test_errors(qstash, qstash_loop, database_results):
    answer_with(qstash, "msg_error")
    result = docs.fail_with_value_error.using(max_retries=0).enqueue()
    # max_retries=0: the only attempt failed, so the webhook tells QStash to stop (489).
    assert qstash_loop().status_code == 489
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is ValueError
    assert "ValueError: no meaning" in result.errors[0].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value
