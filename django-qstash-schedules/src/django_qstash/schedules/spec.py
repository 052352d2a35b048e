"""A row's QStash schedule: what ``.delay()`` would publish for the same call, made by core's
publish pipeline (through ``hooks.prepare_message``), plus the row's cron and schedule id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from django_qstash import hooks
from django_qstash.schedules.models import TaskSchedule
from django_qstash.schedules.remote import ScheduleSyncError, body_json

#: QStash options of a prepared message a schedule holds besides retries, timeout and queue
#: (QStash schedules have no deduplication, delay or not-before of their own).
SCHEDULE_EXTRA_OPTIONS = (
    "retry_delay",
    "callback",
    "failure_callback",
    "callback_headers",
    "failure_callback_headers",
    "label",
    "flow_control",
)


@dataclass(frozen=True)
class ScheduleSpec:
    """Everything QStash should hold for one row (the arguments of ``schedule.create``)."""

    schedule_id: str
    destination: str
    cron: str
    body: bytes
    retries: int | None = None
    timeout: int | str | None = None
    queue: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: The same run as a one-off message (the admin's "run now"), as core's pipeline made it.
    message: hooks.PreparedMessage | None = field(default=None, compare=False, repr=False)

    def create_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "destination": self.destination,
            "cron": self.cron,
            "body": self.body,
            "content_type": "application/json",
            "schedule_id": self.schedule_id,
            "retries": self.retries,
            "timeout": self.timeout,
            "queue": self.queue,
        }
        kwargs.update(self.extra)
        return kwargs

    def fingerprint(self) -> str:
        data = {k: v for k, v in self.create_kwargs().items() if k != "body"}
        data["body"] = json.loads(self.body)
        encoded = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()


def row_options(schedule: TaskSchedule) -> dict[str, Any]:
    """The row's own delivery options, as ``apply_async`` options (they override the task's)."""
    # A schedule's body is the same for every run: an absolute expiry would be stale later.
    options: dict[str, Any] = {"expires": None}
    if schedule.retries is not None:
        options["max_retries"] = schedule.retries
    if schedule.timeout:
        options["timeout"] = schedule.timeout
    if schedule.queue:
        options["queue"] = schedule.queue
    return options


def stable_jitter(schedule_id: str) -> float:
    """The retry-delay jitter factor (0..1) of a schedule: fixed, so its spec is stable."""
    digest = hashlib.sha256(schedule_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def build_spec(schedule: TaskSchedule) -> ScheduleSpec:
    """The QStash schedule for a row: the message ``.delay()`` would publish for the same call
    (core's pipeline: the task's retries, timeout, flow control, retry delay, headers), with the
    row's retries/timeout/queue over the task's, delivered to the webhook URL."""
    try:
        prepared = hooks.prepare_message(
            schedule.task_name,
            list(schedule.args or []),
            dict(schedule.kwargs or {}),
            row_options(schedule),
            carry=False,
            jitter=stable_jitter(schedule.schedule_id),
        )
    except hooks.TaskNotRegistered as exc:
        raise ScheduleSyncError(
            f"Not pushed: {exc} Pick a registered task for this schedule."
        ) from None
    except (ImproperlyConfigured, hooks.ArgumentsNotSerializable, TypeError, ValueError) as exc:
        raise ScheduleSyncError(f"Not pushed: {exc}") from None
    options = prepared.options
    timeout = options.get("timeout")
    extra = {
        name: value
        for name, value in options.items()
        if name in SCHEDULE_EXTRA_OPTIONS and value is not None
    }
    if prepared.headers:
        extra["headers"] = dict(prepared.headers)
    return ScheduleSpec(
        schedule_id=schedule.schedule_id,
        destination=prepared.destination,
        cron=schedule.qstash_cron,
        body=prepared.body,
        retries=options.get("max_retries"),
        timeout=None if timeout is None else (hooks.whole_seconds(timeout) or str(timeout)),
        queue=options.get("queue"),
        extra=extra,
        message=prepared,
    )


def differences(spec: ScheduleSpec, remote: Any) -> list[str]:
    """What differs between a row's spec and the QStash schedule (ignoring pause state)."""
    diffs: list[str] = []
    if remote.cron.strip() != spec.cron:
        diffs.append(f"cron {remote.cron!r} -> {spec.cron!r}")
    if remote.destination != spec.destination:
        diffs.append(f"destination {remote.destination} -> {spec.destination}")
    if body_json(remote) != json.loads(spec.body):
        diffs.append("task or arguments")
    if spec.retries is not None and remote.retries != spec.retries:
        diffs.append(f"retries {remote.retries} -> {spec.retries}")
    if isinstance(spec.timeout, int) and (remote.timeout or None) != spec.timeout:
        diffs.append(f"timeout {remote.timeout} -> {spec.timeout}")
    if (remote.queue or None) != spec.queue:
        diffs.append(f"queue {remote.queue or '-'} -> {spec.queue or '-'}")
    return diffs
