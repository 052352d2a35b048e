"""The built-in clear_stale_results_task: registered under the name the README schedules."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys

import pytest
from django.utils import timezone

import django_qstash.results
from django_qstash import hooks
from django_qstash.results.models import TaskResult, TaskStatus

NAME = "django_qstash.results.clear_stale_results_task"
DAY = 86_400


def old_row(task_id: str, days: float) -> None:
    TaskResult.objects.create(
        task_id=task_id,
        task_name="example.tasks.record",
        status=TaskStatus.SUCCESS,
        date_created=timezone.now() - datetime.timedelta(days=days, seconds=1),
        date_done=timezone.now() - datetime.timedelta(days=days),
    )


def test_it_is_registered_under_the_readme_name():
    task = hooks.get_task(NAME)
    assert task.name == NAME
    assert NAME in hooks.registered_tasks()


def test_it_is_importable_from_the_package_lazily():
    from django_qstash.results import clear_stale_results_task

    assert clear_stale_results_task is hooks.get_task(NAME)
    assert django_qstash.results.clear_stale_results_task is clear_stale_results_task
    with pytest.raises(AttributeError):
        django_qstash.results.nothing_here  # noqa: B018


def test_importing_the_package_loads_no_models_and_needs_no_settings():
    code = (
        "import sys, django_qstash.results; "
        "assert 'django_qstash.results.models' not in sys.modules; "
        "assert 'django_qstash.results.tasks' not in sys.modules; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": ""}, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.django_db
def test_calling_it_deletes_stale_results_and_reports():
    from django_qstash.results import clear_stale_results_task

    old_row("old", 8)
    old_row("new", 1)
    report = clear_stale_results_task()
    assert report["results"] == 1
    assert report["dry_run"] is False
    assert set(TaskResult.objects.values_list("task_id", flat=True)) == {"new"}
    assert clear_stale_results_task(since=0, dry_run=True)["results"] == 1
    assert clear_stale_results_task(3600)["results"] == 1
    assert not TaskResult.objects.exists()


@pytest.mark.django_db
def test_arguments_it_does_not_know_are_ignored_with_a_warning(caplog):
    from django_qstash.results import clear_stale_results_task

    old_row("old", 8)
    old_row("new", 1)
    # The README's schedule example passes placeholder arguments.
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        report = clear_stale_results_task("arg1", "arg2", kwarg1="value1", kwarg2="value2")
    assert report["since"] == 604800
    assert report["results"] == 1
    assert "ignores the arguments ['arg2'] ['kwarg1', 'kwarg2']" in caplog.text
    assert "since='arg1' is not a number of seconds" in caplog.text


@pytest.mark.django_db
def test_a_delivery_of_it_runs_the_cleanup_and_stores_its_report(deliver):
    old_row("old", 8)
    response = deliver(NAME, 604800, message_id="msg_cleanup")
    assert response.status_code == 200
    assert response.json()["result"]["results"] == 1
    row = TaskResult.objects.get(task_id="msg_cleanup")
    assert row.status == TaskStatus.SUCCESS
    assert row.result["results"] == 1
    assert not TaskResult.objects.filter(task_id="old").exists()
