"""A task bound to another backend alias ("other"); imported only where TASKS defines it."""

from __future__ import annotations

try:
    from django.tasks import task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef]


@task(backend="other")
def elsewhere() -> str:
    return "runs on the other backend only"
