"""``task_schedules --sync``: compare every row with QStash, then carry out the plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_qstash import hooks
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from django_qstash.schedules.remote import ScheduleSyncError, list_remote, parse_envelope
from django_qstash.schedules.spec import build_spec, differences
from django_qstash.schedules.suspension import sync_suspended
from django_qstash.schedules.sync import process_deletion, push, record_failure


@dataclass
class PlanItem:
    """One step of a ``task_schedules --sync``."""

    #: create, update, pause, resume, adopt, delete, ok, skip, invalid
    action: str
    schedule_id: str
    name: str
    detail: str = ""
    schedule: TaskSchedule | None = None
    remote: Any = None
    deletion: ScheduleDeletion | None = None
    error: str = ""

    @property
    def is_change(self) -> bool:
        return self.action in {"create", "update", "pause", "resume", "adopt", "delete"}


@dataclass
class SyncPlan:
    items: list[PlanItem]
    other_destinations: int = 0

    @property
    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.is_change]

    @property
    def problems(self) -> list[PlanItem]:
        return [item for item in self.items if item.action == "invalid"]


def _validation_message(exc: Exception) -> str:
    from django.core.exceptions import ValidationError

    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return "; ".join(
                f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()
            )
        return " ".join(exc.messages)
    return str(exc)


def plan_sync() -> SyncPlan:
    """Compare every row with QStash: what ``--sync`` would do. Reads QStash, writes nothing."""
    remote_list, others = list_remote()
    remote_by_id = {r.schedule_id: r for r in remote_list}
    items: list[PlanItem] = []
    pending = {d.schedule_id: d for d in ScheduleDeletion.objects.all()}

    for deletion in pending.values():
        if deletion.schedule_id in remote_by_id:
            items.append(
                PlanItem(
                    "delete", deletion.schedule_id, deletion.name, "deleted here", deletion=deletion
                )
            )
        else:
            items.append(
                PlanItem(
                    "delete",
                    deletion.schedule_id,
                    deletion.name,
                    "already gone on QStash",
                    deletion=deletion,
                )
            )

    for schedule in TaskSchedule.objects.order_by("name"):
        remote = remote_by_id.get(schedule.schedule_id)
        try:
            schedule.full_clean()
            spec = build_spec(schedule)
        except Exception as exc:
            items.append(
                PlanItem(
                    "invalid",
                    schedule.schedule_id,
                    schedule.name,
                    _validation_message(exc),
                    schedule=schedule,
                    remote=remote,
                )
            )
            continue
        if remote is None:
            state = "" if schedule.is_active else ", paused"
            items.append(
                PlanItem(
                    "create",
                    schedule.schedule_id,
                    schedule.name,
                    f"{spec.cron}{state}",
                    schedule,
                    None,
                )
            )
            continue
        diffs = differences(spec, remote)
        paused_diff = bool(remote.paused) == schedule.is_active
        if diffs:
            items.append(
                PlanItem(
                    "update",
                    schedule.schedule_id,
                    schedule.name,
                    "; ".join(diffs),
                    schedule,
                    remote,
                )
            )
        elif paused_diff:
            action = "resume" if schedule.is_active else "pause"
            items.append(
                PlanItem(action, schedule.schedule_id, schedule.name, "", schedule, remote)
            )
        else:
            detail = "up to date" + (
                "; the row will be marked synced" if schedule.sync_state != "synced" else ""
            )
            items.append(
                PlanItem("ok", schedule.schedule_id, schedule.name, detail, schedule, remote)
            )

    local_ids = set(TaskSchedule.objects.values_list("schedule_id", flat=True))
    registered = hooks.registered_tasks()
    for remote in remote_list:
        if remote.schedule_id in local_ids or remote.schedule_id in pending:
            continue
        call = parse_envelope(remote)
        if call is None:
            items.append(
                PlanItem(
                    "skip",
                    remote.schedule_id,
                    "",
                    "not a django-qstash task message",
                    remote=remote,
                )
            )
        elif call.task_name not in registered:
            items.append(
                PlanItem(
                    "skip",
                    remote.schedule_id,
                    "",
                    f"task {call.task_name!r} is not registered in this project",
                    remote=remote,
                )
            )
        else:
            items.append(
                PlanItem(
                    "adopt",
                    remote.schedule_id,
                    _adopted_name(call.task_name, remote.schedule_id),
                    f"{call.task_name} at {remote.cron}" + (" (paused)" if remote.paused else ""),
                    remote=remote,
                )
            )
    return SyncPlan(items, others)


def _adopted_name(task_name: str, schedule_id: str) -> str:
    short = task_name.rsplit(".", 1)[-1]
    name = f"{short} ({schedule_id})"[:200]
    candidate, counter = name, 2
    while TaskSchedule.objects.filter(name=candidate).exists():
        suffix = f" #{counter}"
        candidate = name[: 200 - len(suffix)] + suffix
        counter += 1
    return candidate


def adopt(remote: Any, name: str) -> TaskSchedule:
    """A local row for a QStash schedule that carries a django-qstash task (only its values)."""
    from django_qstash.schedules.cron import split_timezone

    call = parse_envelope(remote)
    if call is None:  # pragma: no cover - plan_sync only offers envelopes
        raise ScheduleSyncError(
            f"schedule {remote.schedule_id} does not carry a django-qstash task"
        )
    cron, zone = split_timezone(remote.cron)
    retries = call.options.get("max_retries")
    schedule = TaskSchedule(
        name=name,
        task_name=call.task_name,
        args=call.args,
        kwargs=call.kwargs,
        cron=cron,
        timezone=zone,
        is_active=not remote.paused,
        retries=retries if isinstance(retries, int) and retries >= 0 else None,
        timeout=remote.timeout if isinstance(remote.timeout, int) and remote.timeout > 0 else None,
        queue=remote.queue or "",
        schedule_id=remote.schedule_id,
        description=(
            f"Adopted from QStash by task_schedules --sync on {timezone.now():%Y-%m-%d %H:%M} UTC."
        ),
    )
    schedule.full_clean()
    with sync_suspended(), transaction.atomic():
        schedule.save()
    # What a save would push now may differ (e.g. task defaults): record it as synced only if not.
    spec = build_spec(schedule)
    fingerprint = "" if differences(spec, remote) else spec.fingerprint()
    TaskSchedule.objects.filter(pk=schedule.pk).update(
        needs_sync=not fingerprint,
        last_synced_at=timezone.now(),
        sync_error="",
        synced_fingerprint=fingerprint,
        synced_active=schedule.is_active,
    )
    schedule.refresh_from_db()
    return schedule


def apply_item(item: PlanItem) -> str | None:
    """Carry out one plan step; the error message, or None."""
    try:
        if item.action == "delete":
            assert item.deletion is not None
            return process_deletion(item.deletion)
        if item.action == "adopt":
            adopt(item.remote, item.name)
            return None
        if item.action in {"create", "update", "pause", "resume", "ok"}:
            assert item.schedule is not None
            try:
                push(item.schedule, remote=item.remote)
            except ScheduleSyncError as exc:
                record_failure(item.schedule, str(exc))
                return str(exc)
            return None
    except Exception as exc:
        return _validation_message(exc) if not isinstance(exc, ScheduleSyncError) else str(exc)
    return None
