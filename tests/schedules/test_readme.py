"""Every Python example in django-qstash-schedules/README.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_qstash.schedules.models import TaskSchedule

README = Path(__file__).resolve().parents[2] / "django-qstash-schedules" / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_readme_has_examples():
    assert len(python_blocks()) == 3


@pytest.mark.django_db
def test_readme_examples_run(fake_qstash, django_capture_on_commit_callbacks):
    scope: dict[str, object] = {"__name__": "readme_example"}
    for block in python_blocks():
        with django_capture_on_commit_callbacks(execute=True):
            exec(compile(block, str(README), "exec"), scope)  # noqa: S102
    assert scope["INSTALLED_APPS"] == ["django_qstash", "django_qstash.schedules"]
    schedule = TaskSchedule.objects.get(name="Nightly report")
    assert schedule.qstash_cron == "CRON_TZ=Europe/Berlin 0 4 * * 1-5"
    assert schedule.is_active is False  # the bulk-update example paused it...
    assert schedule.sync_state == "synced"  # ...and synced it
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake_qstash.requests][-1] == (
        "PATCH",
        "pause",
    )
