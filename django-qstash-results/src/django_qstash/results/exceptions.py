"""Exceptions the results app stores (and ``AsyncResult`` raises again)."""

from __future__ import annotations

from django_qstash.hooks import TaskRevokedError


class TaskExpired(TaskRevokedError):
    """The message arrived after its ``expires`` time, so its task was not run (a
    :class:`~django_qstash.exceptions.TaskRevokedError`, as Celery reports an expired task)."""
