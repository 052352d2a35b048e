"""Django 6.0 / 6.1, the django-tasks backport on 5.2, and a Django without either."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import django
import pytest

from django_qstash import tasks_compat
from django_qstash.backends import QStashBackend, QStashTask
from tests.tasks_backend import tasks

ROOT = Path(__file__).resolve().parents[2]


def test_the_framework_in_use():
    expected = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    assert tasks_compat.FRAMEWORK == expected
    assert tasks_compat.require() == expected


def test_the_backend_subclasses_that_frameworks_base_class():
    if tasks_compat.FRAMEWORK == "django.tasks":
        from django.tasks import Task
        from django.tasks.backends.base import BaseTaskBackend
    else:
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import Task
    assert issubclass(QStashBackend, BaseTaskBackend)
    assert issubclass(QStashTask, Task)


@pytest.mark.skipif(django.VERSION < (6, 1), reason="Tasks pickle from Django 6.1")
def test_a_task_with_options_survives_pickling():
    configured = tasks.add.using(max_retries=2, label="x")
    restored = pickle.loads(pickle.dumps(configured))
    assert restored == configured
    assert (restored.max_retries, restored.label) == (2, "x")


HIDE_THE_FRAMEWORK = textwrap.dedent(
    """
    import sys

    # What Django 5.2 without the backport looks like.
    sys.modules["django.tasks"] = None
    sys.modules["django_tasks"] = None

    from django.core.exceptions import ImproperlyConfigured

    import django_qstash
    from django_qstash import tasks_compat

    assert tasks_compat.FRAMEWORK is None
    try:
        import django_qstash.backends
    except ImportError as exc:
        assert isinstance(exc, ImproperlyConfigured), type(exc)
        print(exc)
    else:
        raise SystemExit("django_qstash.backends imported without a Tasks framework")
    """
)


def test_without_a_tasks_framework_the_backend_says_what_to_install():
    paths = [str(ROOT / "sample_project"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    completed = subprocess.run(
        [sys.executable, "-c", HIDE_THE_FRAMEWORK],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    message = completed.stdout
    assert "Upgrade to Django 6.0 or later" in message
    assert "pip install django-tasks" in message
    assert "'django_tasks' to INSTALLED_APPS" in message
    assert f"this Django ({django.get_version()})" in message
