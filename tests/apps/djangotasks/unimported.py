"""Imported by nothing at start-up: a server finds these tasks by their module path only."""

from __future__ import annotations

from django_qstash import shared_task

try:
    from django.tasks import task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef]


@task
def multiply(a: int, b: int) -> int:
    return a * b


@shared_task
def shared_multiply(a: int, b: int) -> int:
    return a * b
