from __future__ import annotations

import json

from django.core.management import call_command

from django_qstash.discovery.utils import discover_tasks
from django_qstash.registry import registry


def test_tasks_in_tasks_py_a_tasks_package_and_imported_modules_are_found():
    names = discover_tasks(paths_only=True)
    assert "example.tasks.record" in names  # tasks.py
    assert "pkgtasks.ping" in names  # tasks/__init__.py, custom name
    assert "tests.apps.pkgtasks.tasks.reports.build_report" in names  # tasks/ submodule
    assert "tests.apps.elsewhere.jobs.cleanup" in names  # imported by the app's models.py
    assert names == sorted(names)


def test_discover_tasks_gives_choices_by_default():
    choices = dict(discover_tasks())
    assert choices["pkgtasks.ping"] == "ping (pkgtasks.ping)"


def test_the_registry_resolves_names_only():
    assert registry.get("pkgtasks.ping")() == "pong"
    assert "os.system" not in registry


def test_available_tasks_lists_name_module_and_options(capsys):
    call_command("available_tasks")
    out = capsys.readouterr().out
    line = next(
        line for line in out.splitlines() if line.startswith("tests.apps.elsewhere.jobs.cleanup")
    )
    assert "tests.apps.elsewhere.jobs" in line
    assert "max_retries=2" in line
    assert "timeout=30" in line
    assert out.rstrip().endswith("tasks.")


def test_available_tasks_json(capsys):
    call_command("available_tasks", "--json")
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["tests.apps.elsewhere.jobs.cleanup"]["options"] == {"max_retries": 2, "timeout": 30}
    assert rows["example.tasks.async_double"]["is_async"] is True
    assert rows["example.tasks.bound_info"]["bind"] is True
