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
    """Raised by ``Task.retry()``: the task asked to run again later, and this delivery is done.

    As in Celery the idiom is ``raise self.retry(...)``. ``exc`` is the exception that caused
    the retry, ``when`` the countdown (seconds) or eta, ``message_id`` the id of the message
    that was published for the next attempt (``None`` in eager mode, where ``apply()`` runs the
    next attempt itself with ``args``/``kwargs``).
    """

    def __init__(
        self,
        message: str = "",
        *,
        exc: BaseException | None = None,
        when: Any = None,
        message_id: str | None = None,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        is_eager: bool = False,
    ) -> None:
        super().__init__(message or "Task was republished for a retry")
        self.exc = exc
        self.when = when
        self.message_id = message_id
        self.retry_args = args
        self.retry_kwargs = kwargs
        self.is_eager = is_eager


class MaxRetriesExceededError(DjangoQStashError):
    """``Task.retry()`` was called after the task used up its retries."""

    def __init__(
        self,
        message: str = "",
        *,
        task_args: list[Any] | None = None,
        task_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.task_args = task_args
        self.task_kwargs = task_kwargs


class CanvasNotSupported(DjangoQStashError, NotImplementedError):
    """A Celery canvas construct that QStash cannot carry out (see docs/celery.md)."""


class IgnoredOptionWarning(UserWarning):
    """A Celery option that has no meaning with QStash was given; it is ignored.

    Sent once per task and option, so a module of Celery tasks imports without crashing and the
    log says what does not apply: a broker-only option (``priority``, ``routing_key``,
    ``delivery_mode``, ...), or a decorator option Celery would keep as a task attribute.
    Silence it, or make it an error, with ``warnings.filterwarnings``.
    """


#: The name the Celery compatibility docs use for :class:`IgnoredOptionWarning`.
CeleryOptionIgnored = IgnoredOptionWarning


class TaskTimeout(DjangoQStashError):
    """``AsyncResult.get()`` gave up waiting for the outcome (Celery's ``TimeoutError``)."""


#: Celery's name (``celery.exceptions.TimeoutError``), so ``except TimeoutError`` ports as is.
TimeoutError = TaskTimeout


class TaskRevokedError(DjangoQStashError):
    """The task did not run: its message was revoked or arrived after ``expires``.

    The results app stores an expired message's outcome as
    :class:`django_qstash.results.exceptions.TaskExpired`, a subclass.
    """
