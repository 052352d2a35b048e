"""The ``django.tasks`` side of the QStash backend: :class:`QStashTask` and its QStash options.

``QStashTask`` is the backend's ``task_class``: a Django Task plus the QStash delivery options
of the one option table (``options.OPTIONS``, the rows marked for the Tasks backend).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from django.utils import timezone

from django_qstash.options import TASKS_BACKEND_OPTIONS, duration_seconds
from django_qstash.tasks_compat import Task

#: QStash delivery options a Task can carry (``@task(max_retries=3)`` on Django 6.1+ and with the
#: backport, ``task.using(max_retries=3)`` everywhere).
TASK_OPTIONS = TASKS_BACKEND_OPTIONS

#: Keys of ``TASKS[alias]["OPTIONS"]``: defaults of the task options (a per-message
#: deduplication id makes no sense as a default), and ``get_result``.
BACKEND_OPTIONS = frozenset(TASK_OPTIONS) - {"deduplication_id"} | {"get_result"}

#: What QStash accepts as a queue name.
QUEUE_NAME = re.compile(r"[A-Za-z0-9._-]+")


# ------------------------------------------------------------------------------ option checks


def option_errors(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with these QStash option values, one sentence each."""
    problems = []

    def bad(name: str, expected: str) -> None:
        problems.append(f"{name} must be {expected}, not {options[name]!r}")

    def is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    for name, value in options.items():
        if value is None:
            continue
        if name == "max_retries":
            if not is_int(value) or value < 0:
                bad(name, "a whole number >= 0")
        elif name == "timeout":
            if isinstance(value, str):
                if not value.strip():
                    bad(name, 'seconds or a duration such as "30s"')
                continue
            try:
                seconds = duration_seconds(value)
            except (TypeError, ValueError):
                seconds = 0
            if seconds <= 0:
                bad(name, 'a positive number of seconds or a duration such as "30s"')
        elif name in ("content_based_deduplication", "get_result"):
            if not isinstance(value, bool):
                bad(name, "True or False")
        elif name in TASK_OPTIONS and (not isinstance(value, str) or not value):
            bad(name, "a non-empty string")
    return problems


def unix_seconds(moment: datetime.datetime) -> int:
    """Upstash-Not-Before for ``moment``: whole seconds, rounded up so it never runs early."""
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return math.ceil(moment.timestamp())


# ------------------------------------------------------------------------------ the Task class

if TYPE_CHECKING:
    _TaskBase: TypeAlias = Task[..., Any]
else:
    _TaskBase = Task


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class QStashTask(_TaskBase):
    """The backend's ``task_class``: a Django Task plus QStash delivery options.

    ``None`` means the backend's ``OPTIONS`` default, then QStash's own default.

    On Django 6.1 (and with the backport) ``@task`` passes extra keywords through, so
    ``@task(max_retries=5, timeout="2m")`` works. Django 6.0's ``@task`` refuses them; there,
    ``my_task.using(max_retries=5)`` gives a configured copy (``using`` accepts these options
    besides Django's own), and ``OPTIONS`` sets defaults for every task of the backend.
    """

    #: Upstash-Retries: how often QStash retries a failed delivery.
    max_retries: int | None = None
    #: Upstash-Retry-Delay: an expression in milliseconds over ``retried``, e.g. "1000 * retried".
    retry_delay: str | None = None
    #: Upstash-Timeout: seconds, a timedelta, or a duration such as "30s".
    timeout: int | float | str | datetime.timedelta | None = None
    #: Upstash-Deduplication-Id: QStash drops another message with this id for 10 minutes.
    deduplication_id: str | None = None
    #: Upstash-Content-Based-Deduplication.
    content_based_deduplication: bool | None = None
    #: Upstash-Callback / Upstash-Failure-Callback: URLs QStash calls with the outcome.
    callback: str | None = None
    failure_callback: str | None = None
    #: Upstash-Label, to filter logs and the DLQ.
    label: str | None = None

    def using(
        self,
        *,
        priority: int | None = None,
        queue_name: str | None = None,
        run_after: datetime.datetime | datetime.timedelta | None = None,
        backend: str | None = None,
        **options: Any,
    ) -> QStashTask:
        """A modified copy, as Django's ``using``; also takes the QStash options.

        ``run_after`` may be a timedelta: it is counted from now.
        """
        unknown = sorted(set(options) - set(TASK_OPTIONS))
        if unknown:
            raise TypeError(
                f"using() got unexpected keyword argument(s) {', '.join(unknown)}; the QStash "
                f"options are {', '.join(TASK_OPTIONS)}"
            )
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("priority", priority),
                ("queue_name", queue_name),
                ("run_after", run_after),
                ("backend", backend),
            )
            if value is not None
        }
        changes.update(options)
        return dataclasses.replace(self, **changes)

    @property
    def qstash_options(self) -> dict[str, Any]:
        """The QStash options set on this task (``None`` ones left out)."""
        return {
            name: getattr(self, name) for name in TASK_OPTIONS if getattr(self, name) is not None
        }


# ---------------------------------------------------------------------------- the task as enqueued

#: The Task fields ``using()`` may change: a message carries those that differ from the task as
#: its module defines it, so the webhook and ``get_result()`` see the task as it was enqueued.
ENQUEUED_FIELDS = ("priority", "queue_name", "run_after", "backend", *TASK_OPTIONS)


def _as_json(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return value


def enqueue_record(
    task: Task[..., Any], defined: Task[..., Any], enqueued_at: datetime.datetime
) -> dict[str, Any]:
    """The message's ``django_task`` option: when ``task`` was enqueued, and how it differs
    from ``defined`` (the task its module defines)."""
    record: dict[str, Any] = {"enqueued_at": enqueued_at.isoformat()}
    for name in ENQUEUED_FIELDS:
        value = getattr(task, name, None)
        if value != getattr(defined, name, None):
            record[name] = _as_json(value)
    return record


def _moment(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


def _fields(record: Any) -> Mapping[str, Any]:
    # A message published elsewhere may carry anything here: only a JSON object counts.
    return record if isinstance(record, Mapping) else {}


def enqueued_at_of(record: Any) -> datetime.datetime | None:
    """When the task of a ``django_task`` record was enqueued (None when it does not say)."""
    return _moment(_fields(record).get("enqueued_at"))


def task_as_enqueued(defined: Task[..., Any], record: Any) -> Task[..., Any]:
    """``defined`` with the ``using()`` options a ``django_task`` record carries.

    A record that no longer fits the task (its queue left ``QUEUES``, say) gives ``defined``:
    the task runs, and its result shows the task as defined.
    """
    fields = _fields(record)
    changes = {name: fields[name] for name in ENQUEUED_FIELDS if name in fields}
    if not changes:
        return defined
    if "run_after" in changes:
        changes["run_after"] = _moment(changes["run_after"])
    try:
        return dataclasses.replace(defined, **changes)
    except Exception:  # InvalidTask, or a field this task class lacks
        return defined
