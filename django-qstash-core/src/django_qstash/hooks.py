"""The public hook API: everything the results and schedules apps (and your code) may use.

Other modules of ``django_qstash`` are private. This module offers

* **signals** sent around every delivery: :data:`task_received`, :data:`task_started`,
  :data:`task_succeeded`, :data:`task_failed`, :data:`task_retried`, and
  :data:`message_published` after a publish. Each is sent with ``sender`` = the task object and
  ``delivery`` = a :class:`Delivery`. A receiver that raises is logged and never changes the
  answer to QStash.
* the **result store protocol** (:class:`ResultStore`): when a store is registered (the results
  app registers one in ``AppConfig.ready()``), the webhook asks it before running a task
  (:meth:`ResultStore.claim`) and reports the outcome after; :class:`django_qstash.AsyncResult`
  reads from it.
* **accessors** for the task registry, the message builder, the shared QStash client and the
  webhook URL.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from django.dispatch import Signal

from django_qstash.exceptions import (
    ArgumentsNotSerializable,
    DjangoQStashError,
    MalformedMessage,
    MaxRetriesExceededError,
    PublishError,
    ResultBackendNotConfigured,
    Retry,
    TaskNotRegistered,
)

if TYPE_CHECKING:
    from qstash import QStash

    from django_qstash.task import Task

__all__ = [
    "ArgumentsNotSerializable",
    "ClaimDecision",
    "Delivery",
    "DjangoQStashError",
    "MalformedMessage",
    "MaxRetriesExceededError",
    "PublishError",
    "ResultBackendNotConfigured",
    "ResultStore",
    "Retry",
    "StoredResult",
    "TaskNotRegistered",
    "build_message",
    "get_qstash_client",
    "get_result_store",
    "get_task",
    "message_published",
    "publish_message",
    "register_result_store",
    "registered_tasks",
    "task_failed",
    "task_received",
    "task_retried",
    "task_started",
    "task_succeeded",
    "unregister_result_store",
    "webhook_url",
]

logger = logging.getLogger("django_qstash")

# ------------------------------------------------------------------------------ signals

#: A signed, well-formed message for a registered task arrived (before the result store claim).
task_received = Signal()
#: The task is about to run.
task_started = Signal()
#: The task returned; ``result`` is the return value, ``duration`` seconds.
task_succeeded = Signal()
#: The task raised; ``exception``, ``traceback`` (str) and ``final`` (no retry will follow).
task_failed = Signal()
#: The task asked for a retry (``Task.retry`` / ``autoretry_for``); ``exception``, ``countdown``.
task_retried = Signal()
#: A message was published; ``message_id``, ``task_name``, ``args``, ``kwargs``.
message_published = Signal()


def send_robust(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send a signal; a receiver that raises is logged, never propagated."""
    if not signal.receivers:  # the usual case: skip Django's dispatch machinery
        return
    for receiver, response in signal.send_robust(sender, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "django-qstash hook receiver %r raised; the delivery is unaffected",
                receiver,
                exc_info=response,
            )


# ------------------------------------------------------------------------------ deliveries


@dataclass
class Delivery:
    """One attempt to run one message: what the webhook (or eager mode) knows about it."""

    message_id: str
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    #: Upstash-Retried: 0 on the first attempt.
    retried: int = 0
    #: How many QStash retries the message was published with (None: QStash's default).
    max_retries: int | None = None
    schedule_id: str | None = None
    #: The signature's ``jti`` and ``exp``, for replay protection.
    signature_id: str | None = None
    signature_expires: float | None = None
    is_eager: bool = False
    received_at: float = field(default_factory=time.time)

    @property
    def attempt(self) -> int:
        """1 for the first attempt."""
        return self.retried + 1

    @property
    def is_final_attempt(self) -> bool:
        """True when QStash will not deliver this message again after a failure."""
        if self.is_eager:
            return True
        limit = 3 if self.max_retries is None else self.max_retries
        return self.retried >= limit


class ClaimDecision(enum.Enum):
    #: Run the task.
    RUN = "run"
    #: This message already succeeded: answer 200 without running it.
    ALREADY_SUCCEEDED = "already_succeeded"
    #: Another delivery of this message is running now: answer a retryable 409.
    IN_PROGRESS = "in_progress"
    #: This exact signed request was seen before: refuse it, run nothing.
    REPLAYED = "replayed"


@dataclass
class StoredResult:
    """What a result store knows about one task id."""

    task_id: str
    task_name: str
    status: str  # PENDING, STARTED, RETRY, SUCCESS, FAILURE
    result: Any = None
    exception_type: str | None = None
    exception_message: str | None = None
    traceback: str | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    date_done: Any = None


@runtime_checkable
class ResultStore(Protocol):
    """What core asks of a registered result store. The results app implements it.

    Optional, looked up with ``getattr`` (not part of the protocol, so stores without it still
    match): ``record_expired(delivery) -> None``, called instead of :meth:`claim` when a message
    arrives after its ``expires`` time; the task is not run and QStash gets a 200; and
    ``remember_signature(jti, message_id, expires) -> bool``, called by ``@verify_qstash`` views:
    record a signature until ``expires`` (a timestamp), False if it was recorded before (a
    replay, answered 403).

    ``delivery.options`` is the message's own data: ``options.get("task_id")`` is Celery's task
    id when it differs from ``delivery.message_id`` (a message republished by
    ``self.retry()``, or published with ``task_id=``); ``options.get("retries")`` counts the
    retries before it.
    """

    def claim(self, delivery: Delivery) -> ClaimDecision:
        """Decide, atomically, whether this delivery may run; mark it started if so."""

    def record_success(self, delivery: Delivery, value: Any, duration: float) -> None: ...

    def record_failure(
        self,
        delivery: Delivery,
        exc: BaseException,
        traceback: str,
        *,
        final: bool,
        duration: float,
    ) -> None: ...

    def record_retry(
        self, delivery: Delivery, exc: BaseException | None, countdown: float | None
    ) -> None: ...

    def record_published(
        self, task_id: str, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None: ...

    def get(self, task_id: str) -> StoredResult | None: ...


_result_store: ResultStore | None = None


def register_result_store(store: ResultStore) -> None:
    global _result_store
    _result_store = store


def unregister_result_store() -> None:
    global _result_store
    _result_store = None


def get_result_store() -> ResultStore | None:
    return _result_store


# ------------------------------------------------------------------------------ accessors


def registered_tasks() -> dict[str, Task[..., Any]]:
    """All discovered tasks by registered name."""
    from django_qstash.registry import registry

    return dict(registry.items())


def get_task(name: str) -> Task[..., Any]:
    """The task registered under ``name``; raises :class:`TaskNotRegistered`."""
    from django_qstash.registry import registry

    return registry.get(name)


def build_message(
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON body of a delivery of ``task_name``, exactly as ``.delay()`` would send it."""
    from django_qstash import envelope

    return envelope.build(task_name, args, kwargs, options)


def get_qstash_client() -> QStash:
    """The process-wide ``qstash.QStash`` client, configured from settings."""
    from django_qstash.publisher import get_client

    return get_client()


def webhook_url() -> str:
    """The absolute webhook URL built from DJANGO_QSTASH_DOMAIN + DJANGO_QSTASH_WEBHOOK_PATH."""
    from django_qstash.conf import conf

    return conf.webhook_url


def publish_message(body: bytes, **options: Any) -> str:
    """Publish a prepared body to the webhook; returns the QStash message id."""
    from django_qstash.publisher import publish

    return publish(body, **options)
