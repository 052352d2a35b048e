"""The sync service: keeps QStash schedules in line with TaskSchedule rows.

Every write to QStash is an **upsert with the row's stable schedule id** (``Upstash-Schedule-Id``),
so a sync that is retried (after a timeout, a crash, a lost response) updates the same QStash
schedule and never creates a duplicate. ``is_active`` maps to pause/resume; deleting a row deletes
the QStash schedule.

Nothing here raises into a request after a commit: :func:`sync_schedule` records the outcome on
the row (``last_synced_at``, ``sync_error``, ``needs_sync``) with ``QuerySet.update()``, which
sends no signal, so recording a sync never triggers another one.

Only ``django_qstash.hooks`` of core is used: the message builder (the scheduled body is the
exact ``.delay()`` envelope), the registry, the shared ``qstash.QStash`` client and the webhook URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from django_qstash import hooks
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from django_qstash.schedules.suspension import sync_suspended

logger = logging.getLogger("django_qstash.schedules")

T = TypeVar("T")

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
_SDK_ERROR = re.compile(r"^Request failed with status: (\d+), body: (.*)$", re.DOTALL)
RUN_HINT = "run `python manage.py task_schedules --sync` (or the admin's 'sync now') to retry"


class ScheduleSyncError(hooks.DjangoQStashError):
    """A schedule could not be pushed to (or read from) QStash; the message says why."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def not_found(self) -> bool:
        return self.status == 404


# ------------------------------------------------------------------------------ the wire


def client() -> Any:
    """The shared ``qstash.QStash`` client (core's, through the hook API)."""
    return hooks.get_qstash_client()


def destination() -> str:
    """Where every schedule of this project delivers: the webhook URL from settings."""
    return hooks.webhook_url()


def _base_url() -> str:
    try:
        return str(client().http._base_url)
    except Exception:  # pragma: no cover - only used to word an error
        return "QStash"


def translate_error(exc: BaseException, action: str) -> ScheduleSyncError:
    """A clear, storable message for anything the SDK (or its transport) raised."""
    if isinstance(exc, ScheduleSyncError):
        return exc
    if isinstance(exc, ImproperlyConfigured):
        return ScheduleSyncError(f"Cannot {action}: {exc}")
    if isinstance(exc, hooks.DjangoQStashError):
        return ScheduleSyncError(f"Cannot {action}: {exc}")
    try:
        from qstash.errors import QStashError, RateLimitExceededError
    except ImportError:  # pragma: no cover - qstash is a dependency of core
        QStashError = RateLimitExceededError = ()  # type: ignore[assignment,misc]
    if isinstance(exc, RateLimitExceededError):
        return ScheduleSyncError(
            f"QStash rate-limited the request to {action} (HTTP 429); {RUN_HINT} later.",
            status=429,
        )
    if isinstance(exc, QStashError):
        match = _SDK_ERROR.match(str(exc))
        if match:
            status, body = int(match.group(1)), match.group(2).strip()
            with contextlib.suppress(ValueError, AttributeError):
                body = str(json.loads(body).get("error") or body)
            hint = {
                401: "check QSTASH_TOKEN",
                403: "check QSTASH_TOKEN and the plan's limits",
                404: "it does not exist on QStash",
            }.get(status, "see QStash's answer")
            return ScheduleSyncError(
                f"QStash refused to {action} (HTTP {status}: {body}); {hint}.", status=status
            )
        return ScheduleSyncError(f"QStash refused to {action}: {exc}.")
    # httpx's transport errors (connect, read, timeouts), without importing httpx here.
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in {"httpx", "httpcore"}:
        return ScheduleSyncError(
            f"Could not reach QStash at {_base_url()} to {action} "
            f"({type(exc).__name__}: {exc or 'no answer'}); check QSTASH_URL and the network."
        )
    return ScheduleSyncError(
        f"Unexpected error while trying to {action}: {type(exc).__name__}: {exc}"
    )


def _call(action: str, function: Callable[[], T]) -> T:
    try:
        return function()
    except Exception as exc:
        raise translate_error(exc, action) from exc


# ------------------------------------------------------------------------------ the spec


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
    _call(f"save schedule {spec.schedule_id}", lambda: sdk.schedule.create(**spec.create_kwargs()))


def _set_paused(schedule_id: str, paused: bool) -> None:
    sdk = client()
    if paused:
        _call(f"pause schedule {schedule_id}", lambda: sdk.schedule.pause(schedule_id))
    else:
        _call(f"resume schedule {schedule_id}", lambda: sdk.schedule.resume(schedule_id))


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


def delete_remote(schedule_id: str) -> None:
    """Delete a QStash schedule; one that is already gone counts as deleted."""
    sdk = client()
    try:
        _call(f"delete schedule {schedule_id}", lambda: sdk.schedule.delete(schedule_id))
    except ScheduleSyncError as exc:
        if not exc.not_found:
            raise


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


# ------------------------------------------------------------------------------ reading QStash


def list_remote() -> tuple[list[Any], int]:
    """QStash schedules that deliver to this project's webhook, and how many others exist."""
    target = destination()
    sdk = client()
    schedules = _call("list schedules", lambda: sdk.schedule.list())
    mine = [s for s in schedules if s.destination == target]
    return sorted(mine, key=lambda s: s.schedule_id), len(schedules) - len(mine)


def _body_json(remote: Any) -> Any:
    body = remote.body
    if body is None and getattr(remote, "body_base64", None):
        import base64

        try:
            body = base64.b64decode(remote.body_base64).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


@dataclass(frozen=True)
class RemoteTask:
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]


def parse_envelope(remote: Any) -> RemoteTask | None:
    """The task call a remote schedule carries, when its body is a django-qstash envelope.

    Recognised by rebuilding it with core's message builder: the same JSON means the same
    envelope (version and all), without this app knowing the wire format."""
    data = _body_json(remote)
    if not isinstance(data, dict):
        return None
    task_name, args, kwargs = data.get("task"), data.get("args", []), data.get("kwargs", {})
    options = data.get("options", {})
    if not (isinstance(task_name, str) and task_name and isinstance(args, list)):
        return None
    if not (isinstance(kwargs, dict) and isinstance(options, dict)):
        return None
    try:
        rebuilt = json.loads(hooks.build_message(task_name, args, kwargs, options))
    except (hooks.ArgumentsNotSerializable, TypeError, ValueError):
        return None
    if rebuilt != data:
        return None
    return RemoteTask(task_name, args, kwargs, options)


def differences(spec: ScheduleSpec, remote: Any) -> list[str]:
    """What differs between a row's spec and the QStash schedule (ignoring pause state)."""
    diffs: list[str] = []
    if remote.cron.strip() != spec.cron:
        diffs.append(f"cron {remote.cron!r} -> {spec.cron!r}")
    if remote.destination != spec.destination:
        diffs.append(f"destination {remote.destination} -> {spec.destination}")
    if _body_json(remote) != json.loads(spec.body):
        diffs.append("task or arguments")
    if spec.retries is not None and remote.retries != spec.retries:
        diffs.append(f"retries {remote.retries} -> {spec.retries}")
    if isinstance(spec.timeout, int) and (remote.timeout or None) != spec.timeout:
        diffs.append(f"timeout {remote.timeout} -> {spec.timeout}")
    if (remote.queue or None) != spec.queue:
        diffs.append(f"queue {remote.queue or '-'} -> {spec.queue or '-'}")
    return diffs


# ------------------------------------------------------------------------------ reconciliation


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
