"""The original description's "Store Task Results (Optional)" section, run as written there.

Every import path, name, setting, command and code example of that section (and the results
app's part of the others) is exercised here.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command

MANAGE_PY = Path(__file__).resolve().parents[2] / "sample_project" / "manage.py"


def run_example(code: str) -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "seed_example"}
    exec(compile(textwrap.dedent(code), "<seed example>", "exec"), scope)  # noqa: S102
    return scope


def test_installed_apps_example():
    # INSTALLED_APPS = [..., "django_qstash", "django_qstash.results", ...]
    assert "django_qstash.results" in settings.INSTALLED_APPS
    config = apps.get_app_config("django_qstash_results")
    assert config.name == "django_qstash.results"


def test_the_task_result_model_import_path():
    scope = run_example("from django_qstash.results.models import TaskResult")
    assert scope["TaskResult"]._meta.label == "django_qstash_results.TaskResult"


@pytest.mark.django_db
def test_entries_are_created_by_the_webhook_view_handler(deliver):
    # "These entries are created via the django-qstash webhook view handler
    # (`qstash_webhook_view`)."
    from django.urls import resolve

    from django_qstash.results.models import TaskResult
    from django_qstash.views import qstash_webhook_view

    assert resolve("/qstash/webhook/").func is qstash_webhook_view
    deliver("example.tasks.math_add_task", 2, 3, message_id="msg_seed")
    assert TaskResult.objects.get(task_id="msg_seed").result == 5


@pytest.mark.django_db
def test_the_built_in_cleanup_task_is_a_discovered_task_name():
    # From the schedules example: desired_task = "django_qstash.results.clear_stale_results_task"
    scope = run_example(
        """
        from django_qstash.discovery.utils import discover_tasks

        all_available_tasks = discover_tasks(paths_only=True)

        desired_task = "django_qstash.results.clear_stale_results_task"
        # or desired_task = "example_app.tasks.my_task"

        task_to_use = desired_task
        if desired_task not in all_available_tasks:
            task_to_use = all_available_tasks[0]
        """
    )
    assert scope["task_to_use"] == "django_qstash.results.clear_stale_results_task"


def test_result_ttl_setting_default():
    # DJANGO_QSTASH_RESULT_TTL: default 604800 (7 days)
    from django_qstash.results.conf import DEFAULT_RESULT_TTL, conf

    assert DEFAULT_RESULT_TTL == 604800
    assert conf.RESULT_TTL == settings.DJANGO_QSTASH_RESULT_TTL == 604800


@pytest.mark.django_db
def test_migrate_and_clear_stale_results_through_call_command(capsys):
    call_command("migrate", "django_qstash_results", verbosity=0)
    call_command("clear_stale_results", "--since", "604800", "--no-input")
    assert "Deleted 0 task result(s) older than 604800 seconds" in capsys.readouterr().out


def test_the_commands_as_typed_in_a_shell(tmp_path):
    """``python manage.py migrate django_qstash_results``, then ``clear_stale_results``."""
    database = tmp_path / "seed.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "cfehome.settings",
    }

    def manage(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, str(MANAGE_PY), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=MANAGE_PY.parent,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Applying django_qstash_results.0001_initial... OK" in manage(
        "migrate", "django_qstash_results"
    )

    def add_stale_row(task_id: str) -> None:
        old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=8)).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        with sqlite3.connect(database) as db:
            db.execute(
                "INSERT INTO django_qstash_results_taskresult (task_id, request_id, task_name, "
                "status, args, kwargs, result_is_repr, exception_type, exception_message, "
                "traceback, attempts, republished, schedule_id, date_created, date_done) VALUES "
                "(?, ?, 'example.tasks.record', 'SUCCESS', '[]', '{}', 0, '', '', '', 1, 0, '', ?, "
                "?)",
                (task_id, "", old, old),
            )

    add_stale_row("msg_old_1")
    # As in the README: `python manage.py clear_stale_results --since 604800` asks first.
    out = manage("clear_stale_results", "--since", "604800", stdin="yes\n")
    assert "1 task result(s) older than 604800 seconds" in out
    assert "Deleted 1 task result(s)" in out
    add_stale_row("msg_old_2")
    out = manage("clear_stale_results", "--since", "604800", "--no-input")
    assert "Deleted 1 task result(s) older than 604800 seconds" in out
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM django_qstash_results_taskresult").fetchone() == (
            0,
        )
