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
backend registers an adapter for it (``backend_adapter``) in django-qstash's task registry, under
the Task's ``module_path``. The webhook looks a message's task up there; a module of an installed
app that nothing imported yet is imported by its path (``discovery.paths``), as Django's own
backends find tasks, but never a module outside installed apps.

Works with ``django.tasks`` (Django 6.0+) and with the ``django-tasks`` backport on Django 5.2.
Without either, importing this module raises
:class:`~django_qstash.tasks_compat.TasksFrameworkMissing` (an ``ImportError`` and an
``ImproperlyConfigured``) that says what to install.
"""

from __future__ import annotations

import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.checks import CheckMessage
from django.utils import timezone
from django.utils.crypto import get_random_string

from django_qstash import envelope, pipeline, runner, signals, states
from django_qstash.backend_adapter import (
    READY,
    UNKNOWN_WORKER,
    DjangoTaskAdapter,
    adapter_for,
    eager_result,
    send,
    worker_id,
)
from django_qstash.backend_checks import check_backend
from django_qstash.backend_options import (
    BACKEND_OPTIONS,
    QUEUE_NAME,
    TASK_OPTIONS,
    QStashTask,
    enqueue_record,
    enqueued_at_of,
    option_errors,
    task_as_enqueued,
    unix_seconds,
)
from django_qstash.conf import conf
from django_qstash.discovery.paths import find_task
from django_qstash.exceptions import TaskNotRegistered
from django_qstash.messages import PreparedMessage
from django_qstash.store import Delivery, StoredResult
from django_qstash.store_registry import get_result_store
from django_qstash.task_arguments import normalize_arguments
from django_qstash.tasks_compat import (
    DEFAULT_TASK_QUEUE_NAME,
    BaseTaskBackend,
    InvalidTask,
    Task,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
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

# ------------------------------------------------------------------------------ the backend

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
        adapter_for(task, type(self))

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
        adapter, call_args, call_kwargs, enqueued_at = self._checked(task, args, kwargs)
        if conf.ALWAYS_EAGER:
            # The same JSON check as a publish: ArgumentsNotSerializable names the argument.
            envelope.build(adapter.name, call_args, call_kwargs)
            return self._run_eagerly(task, adapter, call_args, call_kwargs, enqueued_at)
        prepared = self._prepare(task, adapter, call_args, call_kwargs, enqueued_at)
        message_id = pipeline.dispatch_one(prepared, adapter)
        result = self._new_result(task, message_id, call_args, call_kwargs, enqueued_at)
        send(task_enqueued, type(self), result)
        return result

    async def aenqueue(self, task: Task[Any, Any], args: Any, kwargs: Any) -> TaskResult[Any, Any]:
        """:meth:`enqueue` for async code, on the event loop's client (no ``sync_to_async``,
        unlike Django's default; eager mode runs the task in a thread, as Django's does)."""
        adapter, call_args, call_kwargs, enqueued_at = self._checked(task, args, kwargs)
        if conf.ALWAYS_EAGER:
            result: TaskResult[Any, Any] = await sync_to_async(self.enqueue)(task, args, kwargs)
            return result
        prepared = self._prepare(task, adapter, call_args, call_kwargs, enqueued_at)
        [message_id] = await pipeline.adispatch([prepared], [adapter])
        result = self._new_result(task, message_id, call_args, call_kwargs, enqueued_at)
        if task_enqueued.receivers:
            signals.log_raised(await task_enqueued.asend_robust(type(self), task_result=result))
        return result

    def _checked(
        self, task: Task[Any, Any], args: Any, kwargs: Any
    ) -> tuple[DjangoTaskAdapter, list[Any], dict[str, Any], datetime.datetime]:
        self.validate_task(task)
        adapter = adapter_for(task, type(self))
        # As Django's enqueue: the function gets what the TaskResult shows (bytes as text, ...).
        call_args, call_kwargs = normalize_arguments(args, kwargs)
        adapter.bind_arguments(call_args, call_kwargs)  # TypeError now, not a 489 later
        return adapter, call_args, call_kwargs, timezone.now()

    def _prepare(
        self,
        task: Task[Any, Any],
        adapter: DjangoTaskAdapter,
        args: list[Any],
        kwargs: dict[str, Any],
        enqueued_at: datetime.datetime,
    ) -> PreparedMessage:
        # The same pipeline as .delay(); the options are the Task's, not carried in the body,
        # but the message says when and how it was enqueued (for the webhook and get_result).
        options = self.publish_options(task)
        options["django_task"] = enqueue_record(task, adapter.django_task, enqueued_at)
        return pipeline.prepare(adapter, args, kwargs, options, carry=False)

    def _new_result(
        self,
        task: Task[..., Any],
        result_id: str,
        args: list[Any],
        kwargs: dict[str, Any],
        enqueued_at: datetime.datetime,
    ) -> TaskResult[..., Any]:
        return TaskResult(
            task=task,
            id=result_id,
            status=READY,
            enqueued_at=enqueued_at,
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
        enqueued_at: datetime.datetime,
    ) -> TaskResult[..., Any]:
        """DJANGO_QSTASH_ALWAYS_EAGER: run now, in this process, as a delivery would."""
        result = self._new_result(task, get_random_string(32), args, kwargs, enqueued_at)
        send(task_enqueued, type(self), result)
        delivery = Delivery(
            message_id=result.id, task_name=adapter.name, args=args, kwargs=kwargs, is_eager=True
        )
        token = eager_result.set(result)
        try:
            outcome = runner.execute(adapter, delivery)
        finally:
            eager_result.reset(token)
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
        try:  # registered, or found by its module path as the webhook finds it
            adapter: Any = find_task(stored.task_name)
        except TaskNotRegistered:
            adapter = None
        if not isinstance(adapter, DjangoTaskAdapter):
            raise TaskResultDoesNotExist(
                f"{result_id} is a result of {stored.task_name!r}, which is not a django.tasks "
                "Task of this backend"
            )
        return self._result_from_store(stored, adapter.django_task)

    def _result_from_store(
        self, stored: StoredResult, defined: Task[..., Any]
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
        # The store keeps one start time: that of the latest attempt.
        started_at = stored.date_started
        result = TaskResult(
            task=task_as_enqueued(defined, stored.django_task),
            id=stored.task_id,
            status=status,
            enqueued_at=enqueued_at_of(stored.django_task) or stored.date_created,
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
