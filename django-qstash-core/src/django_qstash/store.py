"""The result-store protocol: what core asks of a registered store, and the types it passes.

Core consults the registered store (the results app registers one in ``AppConfig.ready()``)
before running a task and reports the outcome after; without one, it skips these steps. The
registration itself is :mod:`django_qstash.store_registry`'s, so that ``django.setup()`` does
not import this module (defining its dataclasses is the cost). Re-exported by
``django_qstash.hooks``, the module other apps import.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from django_qstash.states import StateName

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
    #: One of :mod:`django_qstash.states` (PENDING, STARTED, RETRY, SUCCESS, FAILURE).
    status: StateName | str
    result: Any = None
    exception_type: str | None = None
    exception_message: str | None = None
    traceback: str | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    date_done: Any = None
    #: When the result was created (published, or first delivered) and its latest attempt began.
    date_created: Any = None
    date_started: Any = None
    #: The message's ``django_task`` option: when and how a django.tasks task was enqueued.
    django_task: dict[str, Any] | None = None


@runtime_checkable
class ResultStore(Protocol):
    """What core asks of a registered result store. The results app implements it.

    Optional, looked up with ``getattr`` (not part of the protocol, so stores without it still
    match): ``record_expired(delivery) -> None``, called instead of :meth:`claim` when a message
    arrives after its ``expires`` time; the task is not run and QStash gets a 200; and
    ``remember_signature(jti, message_id, expires) -> bool``, called by ``@verify_qstash`` views:
    record a signature until ``expires`` (a timestamp), False if it was recorded before (a
    replay, answered 403); and ``async arecord_published(...)``, :meth:`record_published` for
    ``adelay()`` and the other async publishes (without it, that one runs in a thread).

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


# ------------------------------------------------------------------------------ chords


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define.
class ChordJoin(NamedTuple):
    """What the delivery that completed a chord must do: publish ``body`` with ``results`` (in
    header order), or, when ``failed_task_id`` is set, run the body's ``link_error``."""

    chord_id: str
    body: dict[str, Any]
    results: list[Any]
    failed_task_id: str | None = None


@runtime_checkable
class ChordStore(Protocol):
    """The join a ``chord`` needs: a counter per chord that header outcomes count toward.

    Registered by the results app. Each method is one atomic database update, so the body is
    published once however header deliveries interleave or repeat.
    """

    def chord_started(self, chord_id: str, size: int, body: Mapping[str, Any]) -> None:
        """Create the counter of a chord of ``size`` header tasks, before they are published."""

    def chord_part_done(
        self, chord_id: str, index: int, *, task_id: str, succeeded: bool, value: Any
    ) -> ChordJoin | None:
        """Count header task ``index`` (a repeat counts once); return the join to the one
        call that completes the chord (or is the first to fail it), ``None`` to every other."""

    def chord_release(self, chord_id: str) -> None:
        """Undo the completion claimed by :meth:`chord_part_done` (publishing the body failed),
        so the header's redelivery completes the chord again."""
