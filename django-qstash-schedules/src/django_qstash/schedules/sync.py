"""The sync service: keeps QStash schedules in line with TaskSchedule rows.

Every write to QStash is an **upsert with the row's stable schedule id** (``Upstash-Schedule-Id``),
so a sync that is retried (after a timeout, a crash, a lost response) updates the same QStash
schedule and never creates a duplicate. ``is_active`` maps to pause/resume; deleting a row deletes
the QStash schedule.

Nothing here raises into a request after a commit: :func:`sync_schedule` records the outcome on
the row (``last_synced_at``, ``sync_error``, ``needs_sync``) with ``QuerySet.update()``, which
sends no signal, so recording a sync never triggers another one.

The spec a row pushes is built in ``spec`` (core's publish pipeline); QStash is reached in
``remote``; ``plan`` compares every row with QStash for ``task_schedules --sync``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from django_qstash import hooks
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from django_qstash.schedules.remote import (
    RemoteTask,
    ScheduleSyncError,
    call,
    client,
    delete_remote,
    destination,
    list_remote,
    parse_envelope,
    translate_error,
)
from django_qstash.schedules.spec import ScheduleSpec, build_spec, differences

__all__ = [
    "PushResult",
    "RemoteTask",
    "ScheduleSpec",
    "ScheduleSyncError",
    "build_spec",
    "client",
    "delete_remote",
    "destination",
    "differences",
    "list_remote",
    "parse_envelope",
    "process_deletion",
    "push",
    "record_failure",
    "run_now",
    "set_active",
    "sync_queryset",
    "sync_schedule",
    "translate_error",
]

logger = logging.getLogger("django_qstash.schedules")

# ------------------------------------------------------------------------------ pushing one row

_UNKNOWN: Any = object()


@dataclass
class PushResult:
    schedule_id: str
    calls: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.calls)


def _upsert(spec: ScheduleSpec) -> None:
    sdk = client()
    call(f"save schedule {spec.schedule_id}", lambda: sdk.schedule.create(**spec.create_kwargs()))


def _set_paused(schedule_id: str, paused: bool) -> None:
    sdk = client()
    if paused:
        call(f"pause schedule {schedule_id}", lambda: sdk.schedule.pause(schedule_id))
    else:
        call(f"resume schedule {schedule_id}", lambda: sdk.schedule.resume(schedule_id))


def push(schedule: TaskSchedule, *, remote: Any = _UNKNOWN, force: bool = False) -> PushResult:
    """Make QStash match ``schedule``; raise :class:`ScheduleSyncError` when it cannot.

    ``remote`` is the QStash schedule as just listed (``None``: it does not exist) when the caller
    knows it; otherwise the last recorded sync decides what to send: an upsert when the pushed
    content changed, then a pause or resume when the state differs (or may differ: real QStash
    replaces a schedule on upsert, the dev server keeps its paused flag).
    """
    spec = build_spec(schedule)
    result = PushResult(schedule.schedule_id)
    if remote is _UNKNOWN:
        need_upsert = force or spec.fingerprint() != schedule.synced_fingerprint
        paused_before = None if schedule.synced_active is None else not schedule.synced_active
        fresh = schedule.synced_active is None
    else:
        need_upsert = force or remote is None or bool(differences(spec, remote))
        paused_before = None if remote is None else bool(remote.paused)
        fresh = remote is None

    paused_now = paused_before
    if need_upsert:
        _upsert(spec)
        result.calls.append("upsert")
        paused_now = False if (fresh or paused_before is False) else None

    want_paused = not schedule.is_active
    if paused_now is not want_paused:
        try:
            _set_paused(schedule.schedule_id, want_paused)
        except ScheduleSyncError as exc:
            if not (exc.not_found and not need_upsert):
                raise
            # QStash lost it (deleted in its console?): recreate it, then set the state.
            _upsert(spec)
            result.calls.append("upsert")
            _set_paused(schedule.schedule_id, want_paused)
        result.calls.append("pause" if want_paused else "resume")

    _record_success(schedule, spec.fingerprint())
    return result


def _record_success(schedule: TaskSchedule, fingerprint: str) -> None:
    now = timezone.now()
    values = {
        "needs_sync": False,
        "last_synced_at": now,
        "sync_error": "",
        "synced_fingerprint": fingerprint,
        "synced_active": schedule.is_active,
    }
    # Guarded by updated_at: a row saved again meanwhile keeps needs_sync for its own sync.
    updated = TaskSchedule.objects.filter(pk=schedule.pk, updated_at=schedule.updated_at).update(
        **values
    )
    if not updated:
        TaskSchedule.objects.filter(pk=schedule.pk).update(
            last_synced_at=now,
            sync_error="",
            synced_fingerprint=fingerprint,
            synced_active=schedule.is_active,
        )
    for name, value in values.items():
        setattr(schedule, name, value)


def record_failure(schedule: TaskSchedule, error: str) -> None:
    TaskSchedule.objects.filter(pk=schedule.pk).update(needs_sync=True, sync_error=error)
    schedule.needs_sync = True
    schedule.sync_error = error


def sync_schedule(schedule: TaskSchedule | int, *, force: bool = False) -> str | None:
    """Push one row; record the outcome on it. Returns the error message, or None. Never raises.

    This is what runs after a save commits, what the admin's actions call, and what to call after
    a bulk ``QuerySet.update()`` (which sends no signals)."""
    if isinstance(schedule, TaskSchedule):
        row = schedule
    else:
        found = TaskSchedule.objects.filter(pk=schedule).first()
        if found is None:
            return None
        row = found
    return _sync_row(row, force=force)


def _sync_row(schedule: TaskSchedule, *, force: bool) -> str | None:
    try:
        push(schedule, force=force)
    except ScheduleSyncError as exc:
        message = str(exc)
    except Exception as exc:  # never let a sync break the request that saved the row
        logger.exception("Syncing schedule %r to QStash failed unexpectedly", schedule.name)
        message = str(translate_error(exc, f"sync schedule {schedule.schedule_id}"))
    else:
        return None
    logger.warning("Schedule %r is not synced to QStash: %s", schedule.name, message)
    record_failure(schedule, message)
    return message


def sync_queryset(schedules: Iterable[TaskSchedule], *, force: bool = False) -> dict[str, str]:
    """Push each row; ``{name: error}`` for the ones that failed. For bulk updates:

    ``TaskSchedule.objects.filter(...).update(is_active=False)`` changes rows without any signal,
    so nothing reaches QStash until ``sync_queryset(TaskSchedule.objects.filter(...))`` (or
    ``task_schedules --sync``) runs."""
    failures: dict[str, str] = {}
    for schedule in schedules:
        error = sync_schedule(schedule, force=force)
        if error:
            failures[schedule.name] = error
    return failures


def set_active(schedules: Iterable[TaskSchedule], active: bool) -> dict[str, str]:
    """Pause (``active=False``) or resume rows and push the change; ``{name: error}``."""
    rows = list(schedules)
    TaskSchedule.objects.filter(pk__in=[row.pk for row in rows]).update(
        is_active=active, needs_sync=True, updated_at=timezone.now()
    )
    return sync_queryset(TaskSchedule.objects.filter(pk__in=[row.pk for row in rows]))


def run_now(schedule: TaskSchedule) -> str:
    """Publish one run of the schedule now (the same message); returns the message id.

    Recorded like any publish: the result store's PENDING row and ``message_published``."""
    message = build_spec(schedule).message
    assert message is not None
    try:
        return hooks.publish_prepared(message)
    except hooks.PublishError as exc:
        raise ScheduleSyncError(str(exc), status=exc.status) from exc


# ------------------------------------------------------------------------------ deletions


def process_deletion(deletion: ScheduleDeletion | str) -> str | None:
    """Delete the QStash schedule of a pending deletion; drop it when done. Never raises."""
    if isinstance(deletion, ScheduleDeletion):
        return _process_deletion(deletion)
    found = ScheduleDeletion.objects.filter(schedule_id=deletion).first()
    return None if found is None else _process_deletion(found)


def _process_deletion(deletion: ScheduleDeletion) -> str | None:
    try:
        delete_remote(deletion.schedule_id)
    except Exception as exc:
        message = str(translate_error(exc, f"delete schedule {deletion.schedule_id}"))
        logger.warning(
            "QStash schedule %s (%r) is not deleted yet: %s",
            deletion.schedule_id,
            deletion.name,
            message,
        )
        ScheduleDeletion.objects.filter(pk=deletion.pk).update(
            error=message, attempted_at=timezone.now()
        )
        return message
    ScheduleDeletion.objects.filter(pk=deletion.pk).delete()
    return None
