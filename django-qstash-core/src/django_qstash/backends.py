"""A backend for Django's Tasks framework (``django.tasks``) that runs tasks through QStash.

::

    TASKS = {
        "default": {
            "BACKEND": "django_qstash.backends.QStashBackend",
            "QUEUES": ["default", "emails"],
            "OPTIONS": {"max_retries": 3, "timeout": "30s"},
        }
    }

``@task`` functions are published exactly as ``.delay()`` publishes a ``@shared_task``: the same
JSON envelope, through the same publisher, to the same webhook, which runs them through the same
runner. Nothing else is needed: no worker process.

How a ``@task`` reaches the webhook: Django validates every Task with its backend when it is
created (``Task.__post_init__`` calls :meth:`QStashBackend.validate_task`), and that is where the
backend registers an adapter for it in django-qstash's task registry, under the Task's
``module_path``. The webhook resolves messages by registered name only, as it does for
``@shared_task``; so a task module must be imported by the process that serves the webhook
(``tasks.py`` of an installed app is, by autodiscovery).

Works with ``django.tasks`` (Django 6.0+) and with the ``django-tasks`` backport on Django 5.2.
Without either, importing this module raises
:class:`~django_qstash.tasks_compat.TasksFrameworkMissing` (an ``ImportError`` and an
``ImproperlyConfigured``) that says what to install.
"""

from __future__ import annotations

import contextvars
import datetime
import inspect
import os
import socket
import traceback as traceback_module
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.checks import CheckMessage
from django.dispatch import Signal
from django.utils import timezone
from django.utils.crypto import get_random_string

from django_qstash import envelope, pipeline, runner, signals, states
from django_qstash.backend_checks import check_backend
from django_qstash.backend_options import (
    BACKEND_OPTIONS,
    QUEUE_NAME,
    TASK_OPTIONS,
    QStashTask,
    option_errors,
    unix_seconds,
)
from django_qstash.conf import conf
from django_qstash.registry import registry
from django_qstash.store import Delivery, StoredResult, get_result_store
from django_qstash.task import Task as QStashRuntimeTask
from django_qstash.tasks_compat import (
    DEFAULT_TASK_QUEUE_NAME,
    BaseTaskBackend,
    InvalidTask,
    Task,
    TaskContext,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    normalize_json,
    task_enqueued,
    task_finished,
    task_started,
)

__all__ = [
    "BACKEND_OPTIONS",
    "QUEUE_NAME",
    "TASK_OPTIONS",
    "DjangoTaskAdapter",
    "QStashBackend",
    "QStashTask",
    "adapter_for",
    "worker_id",
]

#: The worker id recorded for earlier attempts: QStash does not say which process ran them.
UNKNOWN_WORKER = "unknown"

#: Where an eager run (DJANGO_QSTASH_ALWAYS_EAGER) hands its TaskResult to the adapter.
_eager_result: contextvars.ContextVar[TaskResult[..., Any] | None] = contextvars.ContextVar(
    "django_qstash_eager_task_result", default=None
)


def worker_id() -> str:
    """This process, as ``TaskResult.worker_ids`` records it: ``host:pid`` (at most 64 chars)."""
    return f"{socket.gethostname()}:{os.getpid()}"[-64:]


def _send(signal: Signal, sender: Any, task_result: TaskResult[..., Any]) -> None:
    # A receiver that raises is logged and changes nothing: the message is already published,
    # or the task already ran, as for django-qstash's own hooks.
    signals.send_robust(signal, sender, task_result=task_result)


# ------------------------------------------------------------------------------ the adapter


class DjangoTaskAdapter(QStashRuntimeTask[..., Any]):
    """What the registry holds for a ``@task``: django-qstash's runtime task around it.

    The webhook and the runner treat it like a ``@shared_task`` (name, signature check,
    ``_invoke``). ``_invoke`` is where it behaves as Django's Tasks framework expects: it
    builds the TaskResult of this attempt (its id is the QStash message id, its attempts come
    from ``Upstash-Retried``), passes a TaskContext when the task ``takes_context``, and sends
    ``task_started`` and ``task_finished``.
    """

    def __init__(self, django_task: Task[..., Any]) -> None:
        super().__init__(django_task.func, name=django_task.module_path)
        self.django_task = django_task
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
            return QStashBackend

    def _result_for_delivery(self, args: list[Any], kwargs: dict[str, Any]) -> TaskResult[..., Any]:
        request = self.request
        # The QStash message id of this delivery (``message_id`` once core tells it apart from
        # Celery's task id, which survives ``self.retry()``; a @task never republishes itself).
        result_id = getattr(request, "message_id", None) or request.id or ""
        return TaskResult(
            task=self.django_task,
            id=result_id,
            status=READY,
            enqueued_at=None,
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
        result = _eager_result.get() or self._result_for_delivery(args, kwargs)
        # Whatever the task itself runs (another eager enqueue, say) gets its own result.
        token = _eager_result.set(None)
        try:
            return self._run(result, args, kwargs)
        finally:
            _eager_result.reset(token)

    def _run(self, result: TaskResult[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
        sender = self._backend_class()
        now = timezone.now()
        object.__setattr__(result, "status", TaskResultStatus.RUNNING)
        if result.started_at is None:
            object.__setattr__(result, "started_at", now)
        object.__setattr__(result, "last_attempted_at", now)
        result.worker_ids.append(worker_id())
        _send(task_started, sender, result)

        task = self.django_task
        try:
            if task.takes_context:
                value = task.call(TaskContext(task_result=result), *args, **kwargs)
            else:
                value = task.call(*args, **kwargs)
            value = normalize_json(value)
        except Exception as exc:
            object.__setattr__(result, "finished_at", timezone.now())
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
            result.errors.append(
                TaskError(
                    exception_class_path=f"{type(exc).__module__}.{type(exc).__qualname__}",
                    traceback="".join(traceback_module.format_exception(exc)),
                )
            )
            # Inside the except block, so receivers (Django's logger) see sys.exc_info().
            _send(task_finished, sender, result)
            raise  # the runner answers non-2xx: QStash retries
        object.__setattr__(result, "_return_value", value)
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        _send(task_finished, sender, result)
        return value


def adapter_for(task: Task[..., Any]) -> DjangoTaskAdapter:
    """The registered adapter of ``task`` (registering one the first time)."""
    name = task.module_path
    if name in registry:
        existing: Any = registry.get(name)
        if isinstance(existing, DjangoTaskAdapter) and existing.django_task.func is task.func:
            return existing
    adapter = DjangoTaskAdapter(task)
    registry.register(adapter)
    return adapter


# ------------------------------------------------------------------------------ the backend

# The members by value: django-stubs types them as ``...``.
READY = TaskResultStatus("READY")

_STATUSES: dict[str, Any] = {
    states.PENDING: TaskResultStatus.READY,
    states.RETRY: TaskResultStatus.READY,  # failed, and QStash will deliver it again
    states.STARTED: TaskResultStatus.RUNNING,
    states.SUCCESS: TaskResultStatus.SUCCESSFUL,
    states.FAILURE: TaskResultStatus.FAILED,
}


class QStashBackend(BaseTaskBackend):
    """Enqueue ``django.tasks`` Tasks as QStash messages to django-qstash's webhook.

    Capabilities:

    * ``supports_defer``: ``run_after`` becomes ``Upstash-Not-Before``.
    * ``supports_async_task``: coroutine functions run in the webhook (``Task.call``).
    * ``supports_get_result``: when a result store is registered (the
      ``django_qstash.results`` app registers one); ``OPTIONS["get_result"] = False`` turns it
      off.
    * ``supports_priority``: False. QStash delivers in parallel, or FIFO within a queue; it has
      no priorities, so a non-zero priority is refused rather than ignored.

    ``queue_name`` ``"default"`` publishes directly (deliveries run in parallel); any other name
    enqueues to the QStash queue of that name (FIFO, created on first use).
    """

    task_class = QStashTask
    supports_defer = True
    supports_async_task = True
    supports_priority = False

    @property
    def supports_get_result(self) -> bool:  # type: ignore[override]
        if self.options.get("get_result") is False:
            return False
        return get_result_store() is not None

    # -------------------------------------------------------------------------- validation

    def validate_task(self, task: Task[..., Any]) -> None:
        """Django's rules, the QStash options' values; then register the task for the webhook."""
        run_after: Any = task.run_after
        if isinstance(run_after, datetime.timedelta):
            # Django 6.1's docs allow a timedelta, but its validation crashes on one.
            object.__setattr__(task, "run_after", timezone.now() + run_after)
        super().validate_task(task)
        if isinstance(task, QStashTask):
            problems = option_errors(task.qstash_options)
            if problems:
                raise InvalidTask(f"{task.module_path}: {'; '.join(problems)}.")
        adapter_for(task)

    # -------------------------------------------------------------------------- enqueueing

    def publish_options(self, task: Task[..., Any]) -> dict[str, Any]:
        """The publisher's keyword arguments for ``task``: its options over ``OPTIONS``."""
        merged = {
            name: value
            for name, value in self.options.items()
            if name in TASK_OPTIONS and value is not None
        }
        if isinstance(task, QStashTask):
            merged.update(task.qstash_options)
        if task.queue_name != DEFAULT_TASK_QUEUE_NAME:
            merged["queue"] = task.queue_name
        if task.run_after is not None:
            merged["not_before"] = unix_seconds(task.run_after)
        return merged

    def enqueue(self, task: Task[Any, Any], args: Any, kwargs: Any) -> TaskResult[Any, Any]:
        self.validate_task(task)
        adapter = adapter_for(task)
        call_args, call_kwargs = list(args), dict(kwargs)
        adapter.bind_arguments(call_args, call_kwargs)  # TypeError now, not a 489 later

        if conf.ALWAYS_EAGER:
            # The same JSON check as a publish: ArgumentsNotSerializable names the argument.
            envelope.build(adapter.name, call_args, call_kwargs)
            return self._run_eagerly(task, adapter, call_args, call_kwargs)
        # The same pipeline as .delay(); the options are the Task's, not carried in the body.
        prepared = pipeline.prepare(
            adapter, call_args, call_kwargs, self.publish_options(task), carry=False
        )
        [message_id] = pipeline.dispatch([prepared], [adapter])
        result = self._new_result(task, message_id, call_args, call_kwargs)
        _send(task_enqueued, type(self), result)
        return result

    def _new_result(
        self, task: Task[..., Any], result_id: str, args: list[Any], kwargs: dict[str, Any]
    ) -> TaskResult[..., Any]:
        return TaskResult(
            task=task,
            id=result_id,
            status=READY,
            enqueued_at=timezone.now(),
            started_at=None,
            finished_at=None,
            last_attempted_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )

    def _run_eagerly(
        self,
        task: Task[..., Any],
        adapter: DjangoTaskAdapter,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> TaskResult[..., Any]:
        """DJANGO_QSTASH_ALWAYS_EAGER: run now, in this process, as a delivery would."""
        result = self._new_result(task, get_random_string(32), args, kwargs)
        _send(task_enqueued, type(self), result)
        delivery = Delivery(
            message_id=result.id, task_name=adapter.name, args=args, kwargs=kwargs, is_eager=True
        )
        token = _eager_result.set(result)
        try:
            outcome = runner.execute(adapter, delivery)
        finally:
            _eager_result.reset(token)
        if outcome.exception is not None and conf.EAGER_PROPAGATES:
            raise outcome.exception
        return result

    # -------------------------------------------------------------------------- results

    def get_result(self, result_id: str) -> TaskResult[..., Any]:
        """The stored outcome of ``result_id`` (a QStash message id), as a TaskResult."""
        store = get_result_store() if self.supports_get_result else None
        if store is None:
            raise NotImplementedError(
                "QStashBackend reads results from django-qstash's result store: add "
                "'django_qstash.results' to INSTALLED_APPS (and remove OPTIONS['get_result'] "
                "= False if it is set)."
            )
        stored = store.get(result_id)
        if stored is None:
            raise TaskResultDoesNotExist(result_id)
        adapter: Any = registry.get(stored.task_name) if stored.task_name in registry else None
        if not isinstance(adapter, DjangoTaskAdapter):
            raise TaskResultDoesNotExist(
                f"{result_id} is a result of {stored.task_name!r}, which is not a django.tasks "
                "Task known to this process"
            )
        return self._result_from_store(stored, adapter.django_task)

    def _result_from_store(
        self, stored: StoredResult, task: Task[..., Any]
    ) -> TaskResult[..., Any]:
        status = _STATUSES.get(stored.status, TaskResultStatus.READY)
        finished = status in (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
        errors = []
        if stored.exception_type:
            errors.append(
                TaskError(
                    exception_class_path=stored.exception_type,
                    traceback=stored.traceback
                    or f"{stored.exception_type}: {stored.exception_message or ''}",
                )
            )
        started_at = getattr(stored, "date_started", None)
        result = TaskResult(
            task=task,
            id=stored.task_id,
            status=status,
            enqueued_at=getattr(stored, "date_created", None),
            started_at=started_at,
            finished_at=stored.date_done if finished else None,
            last_attempted_at=started_at,
            args=stored.args,
            kwargs=stored.kwargs,
            backend=self.alias,
            errors=errors,
            worker_ids=[UNKNOWN_WORKER] * stored.attempts,
        )
        if status == TaskResultStatus.SUCCESSFUL:
            object.__setattr__(result, "_return_value", stored.result)
        return result

    # -------------------------------------------------------------------------- checks

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        return check_backend(self)
