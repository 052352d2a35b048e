"""The sample project's tasks written for Django's Tasks framework (``@task``).

They run through QStash like the ``@shared_task`` ones in ``tasks.py``, which imports this module
when the framework is available (Django 6.0+, or the django-tasks backport on Django 5.2).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import send_mail

try:
    from django.tasks import TaskContext, task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import TaskContext, task  # type: ignore[no-redef]

from example.models import TaskRun

logger = logging.getLogger(__name__)


@task
def record_task(key: str, value: Any = None) -> str:
    """The ``@task`` twin of ``tasks.record``: one TaskRun row per run."""
    TaskRun.objects.create(task="django_tasks.record_task", key=key, value=value)
    return key


@task(takes_context=True)
def record_attempt(context: TaskContext, key: str) -> dict[str, Any]:
    """Record which attempt this is and the TaskResult id (the QStash message id)."""
    info = {"attempt": context.attempt, "result_id": context.task_result.id}
    TaskRun.objects.create(task="django_tasks.record_attempt", key=key, value=info)
    return info


@task(takes_context=True)
def fail_until_attempt(context: TaskContext, key: str, succeed_on_attempt: int) -> int:
    """Fail until the given attempt (QStash retries it), recording each attempt's context."""
    info = {"attempt": context.attempt, "result_id": context.task_result.id}
    TaskRun.objects.create(task="django_tasks.fail_until_attempt", key=key, value=info)
    if context.attempt < succeed_on_attempt:
        raise RuntimeError(f"attempt {context.attempt} of {key} fails on purpose")
    return context.attempt


@task(queue_name="emails")
def email_users(emails: list[str], subject: str, message: str) -> int:
    """Django's documentation example, on the "emails" QStash queue."""
    return send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)


@task
async def async_triple(value: int) -> int:
    return value * 3
