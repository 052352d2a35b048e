"""What a task raises beyond Exception: its own failure, except an interrupt of the process."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from django_qstash.tasks_compat import TaskResultStatus
from tests.apps.djangotasks import tasks


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
@pytest.mark.parametrize(
    ("task", "exception"),
    [(tasks.exit_process, SystemExit), (tasks.close_generator, GeneratorExit)],
)
def test_an_eager_task_records_it_as_failed(task, exception, no_result_store, task_signals):
    result = task.enqueue(2) if task is tasks.exit_process else task.enqueue()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is exception
    assert task_signals.names == ["enqueued", "started", "finished"]
    assert task_signals.of("finished")[0].status == "FAILED"


def test_a_shared_task_raising_system_exit_fails_eagerly():
    result = tasks.shared_exit.apply(args=[4])
    assert result.failed()
    assert isinstance(result.result, SystemExit)


def test_the_webhook_answers_a_system_exit_as_a_failure(deliver_body, no_result_store):
    for name in (tasks.exit_process.module_path, tasks.shared_exit.name):
        body = {"v": 1, "task": name, "args": [5], "kwargs": {}, "options": {"max_retries": 0}}
        delivered = deliver_body(json.dumps(body).encode())
        assert delivered.status_code == 489  # its last attempt: no retry
        assert delivered.body["status"] == "failure"
        assert delivered.body["error"] == "SystemExit: 5"


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_keyboard_interrupt_is_not_recorded_but_raised(no_result_store, task_signals):
    with pytest.raises(KeyboardInterrupt):
        tasks.interrupt.enqueue()
    assert "finished" not in task_signals.names
