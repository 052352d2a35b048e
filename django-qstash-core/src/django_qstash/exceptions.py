"""Exceptions django-qstash raises. All are importable from ``django_qstash.hooks`` too."""

from __future__ import annotations

from typing import Any


class DjangoQStashError(Exception):
    """Base class of every django-qstash error."""


class PublishError(DjangoQStashError):
    """Publishing a message to QStash failed; nothing was enqueued.

    ``cause`` is the underlying exception; ``status`` and ``body`` carry QStash's answer when
    there was one (``None`` when QStash could not be reached at all).
    """

    def __init__(
        self,
        message: str,
        *,
        cause: BaseException | None = None,
        status: int | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.cause = cause
        self.status = status
        self.body = body


class ArgumentsNotSerializable(TypeError, DjangoQStashError):
    """A task argument cannot travel as JSON; raised before anything is published."""


class MalformedMessage(DjangoQStashError):
    """A delivered body is not a message this version of django-qstash can run."""


class TaskNotRegistered(DjangoQStashError, LookupError):
    """No task with this name was discovered in the installed apps."""


class ResultBackendNotConfigured(DjangoQStashError):
    """Result look-ups need the ``django_qstash.results`` app."""


class Retry(DjangoQStashError):
    """Raised by ``Task.retry()``: the task was republished and this delivery is done."""

    def __init__(self, message: str = "", *, exc: BaseException | None = None, when: Any = None):
        super().__init__(message or "Task was republished for a retry")
        self.exc = exc
        self.when = when


class MaxRetriesExceededError(DjangoQStashError):
    """``Task.retry()`` was called after the task used up its retries."""


class TaskTimeout(DjangoQStashError):
    """``AsyncResult.get()`` gave up waiting for the outcome."""
