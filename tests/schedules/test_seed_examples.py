"""The original description's "Schedule Tasks (Optional)" and "Management Commands" parts, run
as written there."""

from __future__ import annotations

import io
import sys
import textwrap
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command

from django_qstash.schedules.models import TaskSchedule
from tests.schedules.conftest import WEBHOOK

SCHEDULE_A_TASK = """
from django_qstash.schedules.models import TaskSchedule
from django_qstash.discovery.utils import discover_tasks

all_available_tasks = discover_tasks(paths_only=True)

desired_task = "django_qstash.results.clear_stale_results_task"
# or desired_task = "example_app.tasks.my_task"

task_to_use = desired_task
if desired_task not in all_available_tasks:
    task_to_use = all_available_tasks[0]

print(f"Using task: {task_to_use}")

TaskSchedule.objects.create(
    name="My Schedule",
    cron="0 0 * * *",
    task_name=task_to_use,
    args=["arg1", "arg2"],
    kwargs={"kwarg1": "value1", "kwarg2": "value2"},
)
"""


def run_example(code: str) -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "seed_example"}
    exec(compile(textwrap.dedent(code), "<seed example>", "exec"), scope)  # noqa: S102
    return scope


def test_installed_apps_and_label():
    # INSTALLED_APPS = ["django_qstash", "django_qstash.schedules", ...]
    assert "django_qstash" in settings.INSTALLED_APPS
    assert "django_qstash.schedules" in settings.INSTALLED_APPS
    config = apps.get_app_config("django_qstash_schedules")
    assert config.name == "django_qstash.schedules"


@pytest.mark.django_db
def test_migrate_command():
    # python manage.py migrate django_qstash_schedules
    out = io.StringIO()
    call_command("migrate", "django_qstash_schedules", stdout=out)
    assert "No migrations to apply" in out.getvalue()
    assert TaskSchedule.objects.count() == 0


@pytest.mark.django_db
def test_schedule_a_task_from_the_shell(fake_qstash, django_capture_on_commit_callbacks, capsys):
    with django_capture_on_commit_callbacks(execute=True):
        run_example(SCHEDULE_A_TASK)
    assert capsys.readouterr().out == "Using task: django_qstash.results.clear_stale_results_task\n"
    schedule = TaskSchedule.objects.get(name="My Schedule")
    assert schedule.cron == "0 0 * * *"
    assert schedule.task_name == "django_qstash.results.clear_stale_results_task"
    assert schedule.args == ["arg1", "arg2"]
    assert schedule.kwargs == {"kwarg1": "value1", "kwarg2": "value2"}
    # ...and it is on QStash, upserted with its stable id, delivering to the webhook.
    (request,) = fake_qstash.requests
    assert request.path == f"/v2/schedules/{WEBHOOK}"
    assert request.headers["Upstash-Cron"] == "0 0 * * *"
    assert request.headers["Upstash-Schedule-Id"] == schedule.schedule_id
    assert request.json()["task"] == "django_qstash.results.clear_stale_results_task"
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced"


@pytest.mark.django_db
def test_schedule_a_task_falls_back_to_the_first_task(no_auto_sync, capsys, monkeypatch):
    # Without the results app's task, the example picks all_available_tasks[0].
    from django_qstash.discovery import utils

    real = utils.discover_tasks
    monkeypatch.setattr(
        utils,
        "discover_tasks",
        lambda paths_only=False: [
            t for t in real(paths_only=True) if not t.startswith("django_qstash.results")
        ],
    )
    scope = run_example(SCHEDULE_A_TASK)
    assert scope["task_to_use"] == scope["all_available_tasks"][0]
    assert TaskSchedule.objects.get(name="My Schedule").task_name == scope["task_to_use"]


@pytest.mark.django_db(transaction=True)
def test_admin_add_url(admin_client):
    # Django Admin (/admin/django_qstash_schedules/taskschedule/add/)
    response = admin_client.get("/admin/django_qstash_schedules/taskschedule/add/")
    assert response.status_code == 200
    assert "django_qstash.results.clear_stale_results_task" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.slow
def test_management_commands(on_devserver, no_auto_sync, monkeypatch):
    # python manage.py task_schedules --list / --sync
    TaskSchedule.objects.create(
        name="My Schedule", cron="0 0 * * *", task_name="example.tasks.record", args=["k"]
    )
    out = io.StringIO()
    call_command("task_schedules", "--list", stdout=out)
    assert "1 local schedule(s) not on QStash: My Schedule" in out.getvalue()

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    out = io.StringIO()
    call_command("task_schedules", "--sync", stdout=out)
    assert "Applied 1 of 1 change(s)." in out.getvalue()
    out = io.StringIO()
    call_command("task_schedules", "--list", stdout=out)
    assert "local: My Schedule" in out.getvalue()
