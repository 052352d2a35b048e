"""What runs a ``django.tasks`` task in the webhook: :class:`DjangoTaskAdapter`.

The registry holds one adapter per ``@task`` bound to a ``QStashBackend`` (registered when the
backend validates the task). The webhook and the runner treat it as any django-qstash task; its
``_invoke`` is where Django's Tasks framework is honoured: the ``TaskResult`` of the attempt, the
``TaskContext``, ``task_started``/``task_finished``, and failures recorded as Django records them.
"""

from __future__ import annotations

import contextvars
import inspect
import os
import socket
import traceback as traceback_module
from collections.abc import Mapping, Sequence
from typing import Any

from django.dispatch import Signal
from django.utils import timezone

from django_qstash import signals
from django_qstash.backend_options import enqueued_at_of, task_as_enqueued
from django_qstash.registry import registry
from django_qstash.task import Task as QStashRuntimeTask
from django_qstash.tasks_compat import (
    Task,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_finished,
    task_started,
)

#: The worker id recorded for earlier attempts: QStash does not say which process ran them.
UNKNOWN_WORKER = "unknown"

# The members by value: django-stubs types them as ``...``.
READY = TaskResultStatus("READY")

#: Where an eager run (DJANGO_QSTASH_ALWAYS_EAGER) hands its TaskResult to the adapter.
eager_result: contextvars.ContextVar[TaskResult[..., Any] | None] = contextvars.ContextVar(
    "django_qstash_eager_task_result", default=None
)


def worker_id() -> str:
    """This process, as ``TaskResult.worker_ids`` records it: ``host:pid`` (at most 64 chars)."""
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


def send(signal: Signal, sender: Any, task_result: TaskResult[..., Any]) -> None:
    # A receiver that raises is logged and changes nothing: the message is already published,
    # or the task already ran, as for django-qstash's own hooks.
    signals.send_robust(signal, sender, task_result=task_result)


def error_of(exc: BaseException) -> TaskError:
    """The ``TaskError`` Django records for ``exc``."""
    return TaskError(
        exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
        traceback="".join(traceback_module.format_exception(exc)),
    )


class DjangoTaskAdapter(QStashRuntimeTask[..., Any]):
    """What the registry holds for a ``@task``: django-qstash's runtime task around it.

    ``backend_class`` is the sender of Django's task signals: the class of the backend that
    registered the task.
    """

    def __init__(self, django_task: Task[..., Any], backend_class: type) -> None:
        super().__init__(django_task.func, name=django_task.module_path)
        self.django_task = django_task
        self.backend_class = backend_class
        signature = inspect.signature(django_task.func)
        if django_task.takes_context:
            parameters = list(signature.parameters.values())[1:]
            signature = signature.replace(parameters=parameters)
        #: What a message's arguments must fit: the function's, without ``context``.
        self.call_signature = signature

    def __repr__(self) -> str:
        return f"<@django.tasks.task: {self.name}>"

    def bind_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError, as a call would, if the arguments do not fit the function."""
        try:
            self.call_signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None

    def _backend_class(self) -> type:
        try:
            return type(self.django_task.get_backend())
        except Exception:  # the alias is gone from TASKS in this process
            return self.backend_class

    def _result_for_delivery(self, args: list[Any], kwargs: dict[str, Any]) -> TaskResult[..., Any]:
        request = self.request
        # The message says when and how the task was enqueued (its using() options).
        record = request.message_options.get("django_task")
        # The QStash message id of this delivery; a @task never republishes itself.
        result_id = getattr(request, "message_id", None) or request.id or ""
        return TaskResult(
            task=task_as_enqueued(self.django_task, record),
            id=result_id,
            status=READY,
            enqueued_at=enqueued_at_of(record),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.django_task.backend,
            errors=[],
            # One entry per attempt; QStash does not say who ran the earlier ones.
            worker_ids=[UNKNOWN_WORKER] * max(0, request.retries),
        )

    def _invoke(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        result = eager_result.get() or self._result_for_delivery(args, kwargs)
        # Whatever the task itself runs (another eager enqueue, say) gets its own result.
        token = eager_result.set(None)
        try:
            return self._run(result, args, kwargs)
        finally:
            eager_result.reset(token)

    def _run(self, result: TaskResult[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
        sender = self._backend_class()
        now = timezone.now()
        object.__setattr__(result, "status", TaskResultStatus.RUNNING)
        if result.started_at is None:
            object.__setattr__(result, "started_at", now)
        object.__setattr__(result, "last_attempted_at", now)
        result.worker_ids.append(worker_id())
        send(task_started, sender, result)

        task = result.task
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = task.call(*args, **kwargs)
            value = normalize_json(value)
        except KeyboardInterrupt:
            raise  # the process is being interrupted, as Django's ImmediateBackend lets it
        except BaseException as exc:  # SystemExit too: Django records it as the task's failure
            object.__setattr__(result, "finished_at", timezone.now())
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
            result.errors.append(error_of(exc))
            # Inside the except block, so receivers (Django's logger) see sys.exc_info().
            send(task_finished, sender, result)
            raise  # the runner records the failure and answers non-2xx: QStash retries
        object.__setattr__(result, "_return_value", value)
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        send(task_finished, sender, result)
        return value


def adapter_for(task: Task[..., Any], backend_class: type) -> DjangoTaskAdapter:
    """The registered adapter of ``task`` (registering one the first time)."""
    name = task.module_path
    if name in registry:
        existing: Any = registry.get(name)
        if isinstance(existing, DjangoTaskAdapter) and existing.django_task.func is task.func:
            return existing
    adapter = DjangoTaskAdapter(task, backend_class)
    registry.register(adapter)
    return adapter
