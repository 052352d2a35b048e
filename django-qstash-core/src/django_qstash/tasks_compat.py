"""Which Tasks framework is here: ``django.tasks`` (Django 6.0+) or the ``django-tasks`` backport.

``django_qstash.backends`` imports every framework name it needs from here, so the differences
live in one place:

* Django 6.0 and 6.1 ship ``django.tasks``; it wins when present.
* On Django 5.2 the ``django-tasks`` backport (PyPI ``django-tasks``, import name ``django_tasks``)
  provides the same API. Its 0.12 release names two exceptions differently (``InvalidTaskError``,
  ``InvalidTaskBackendError``); the Django names are exported here for both.
* With neither, :data:`FRAMEWORK` is ``None`` and :func:`require` raises
  :class:`TasksFrameworkMissing`, saying what to install.

Importing this module never raises; importing a framework name from it when there is no
framework raises :class:`TasksFrameworkMissing`.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DEFAULT_TASK_PRIORITY",
    "DEFAULT_TASK_QUEUE_NAME",
    "FRAMEWORK",
    "BaseTaskBackend",
    "InvalidTask",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskResult",
    "TaskResultDoesNotExist",
    "TaskResultStatus",
    "TasksFrameworkMissing",
    "normalize_json",
    "require",
    "task_enqueued",
    "task_finished",
    "task_started",
]


class TasksFrameworkMissing(ImportError, ImproperlyConfigured):
    """Neither ``django.tasks`` (Django 6.0+) nor the ``django-tasks`` backport is installed.

    An :class:`ImportError` (so ``try: import ... except ImportError`` works) and an
    :class:`~django.core.exceptions.ImproperlyConfigured`.
    """


MISSING_MESSAGE = (
    "django_qstash.backends.QStashBackend is a backend for Django's Tasks framework "
    "(django.tasks), which this Django ({version}) does not have. Upgrade to Django 6.0 or "
    "later, or install the backport (`pip install django-tasks`) and add 'django_tasks' to "
    "INSTALLED_APPS. Without either, use @shared_task, which works on every supported Django."
)


def _find(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent is missing, or sys.modules holds None
        return False


def _detect() -> str | None:
    if _find("django.tasks"):
        return "django.tasks"
    if _find("django_tasks"):
        return "django_tasks"
    return None


if TYPE_CHECKING:
    # django-stubs describes django.tasks whatever Django is installed; the backport has the
    # same shapes, so the type checker sees one API.
    from django.tasks import (
        DEFAULT_TASK_QUEUE_NAME,
        Task,
        TaskContext,
        TaskResult,
        TaskResultStatus,
    )
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import DEFAULT_TASK_PRIORITY, TaskError
    from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started

    FRAMEWORK: str | None

    def normalize_json(obj: Any) -> Any: ...

else:
    FRAMEWORK = _detect()

    if FRAMEWORK == "django.tasks":
        from django.tasks import (
            DEFAULT_TASK_QUEUE_NAME,
            Task,
            TaskContext,
            TaskResult,
            TaskResultStatus,
        )
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import DEFAULT_TASK_PRIORITY, TaskError
        from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist
        from django.tasks.signals import task_enqueued, task_finished, task_started
        from django.utils.json import normalize_json

    elif FRAMEWORK == "django_tasks":
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import (
            DEFAULT_TASK_PRIORITY,
            DEFAULT_TASK_QUEUE_NAME,
            Task,
            TaskContext,
            TaskError,
            TaskResult,
            TaskResultStatus,
        )
        from django_tasks.exceptions import TaskResultDoesNotExist
        from django_tasks.signals import task_enqueued, task_finished, task_started
        from django_tasks.utils import normalize_json

        try:  # renamed after 0.12.0
            from django_tasks.exceptions import InvalidTask
        except ImportError:
            from django_tasks.exceptions import InvalidTaskError as InvalidTask

    def __getattr__(name: str) -> Any:
        # ``from django_qstash.tasks_compat import Task`` without a framework: say why.
        if name in __all__:
            require()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def require() -> str:
    """The framework's import name; raises :class:`TasksFrameworkMissing` when there is none."""
    if FRAMEWORK is None:
        import django

        raise TasksFrameworkMissing(MISSING_MESSAGE.format(version=django.get_version()))
    return FRAMEWORK
