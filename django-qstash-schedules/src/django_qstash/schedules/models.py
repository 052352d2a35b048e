"""TaskSchedule: a cron schedule of a registered task, mirrored to a QStash schedule.

The row is the source of truth. Saving it pushes it to QStash after the transaction commits
(see :mod:`django_qstash.schedules.signals`); the sync columns say how that went.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from django_qstash import hooks
from django_qstash.schedules.conf import conf
from django_qstash.schedules.cron import (
    CronInfo,
    inspect_cron,
    qstash_cron,
    split_timezone,
    validate_cron,
    validate_timezone,
)

#: QStash accepts these characters in schedule ids and queue names.
QSTASH_NAME = RegexValidator(
    r"^[A-Za-z0-9._-]+$",
    _("Use only letters, digits, '.', '_' and '-' (QStash's rule)."),
    code="invalid_qstash_name",
)


#: Written only by the sync service (with update()), never by save().
SYNC_RECORD_FIELDS = frozenset({"last_synced_at", "synced_fingerprint", "synced_active"})


def new_schedule_id() -> str:
    """A stable, QStash-valid schedule id for a new row: ``djq-<32 hex digits>``."""
    return f"{conf.ID_PREFIX}{uuid.uuid4().hex}"


def _empty_list() -> list[Any]:
    return []


def _empty_dict() -> dict[str, Any]:
    return {}


class TaskSchedule(models.Model):
    name = models.CharField(
        _("name"), max_length=200, unique=True, help_text=_("A short, unique description.")
    )
    task_name = models.CharField(
        _("task"),
        max_length=255,
        help_text=_("The registered name of the task (python manage.py available_tasks)."),
    )
    args = models.JSONField(
        _("positional arguments"),
        default=_empty_list,
        blank=True,
        help_text=_('A JSON array, e.g. ["arg1", 2].'),
    )
    kwargs = models.JSONField(
        _("keyword arguments"),
        default=_empty_dict,
        blank=True,
        help_text=_('A JSON object, e.g. {"key": "value"}.'),
    )
    cron = models.CharField(
        _("cron"),
        max_length=255,
        validators=[validate_cron],
        help_text=_(
            "Five fields: minute hour day-of-month month day-of-week, e.g. '0 0 * * *' "
            "(daily at midnight). See crontab.guru."
        ),
    )
    timezone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        default="",
        validators=[validate_timezone],
        help_text=_(
            "IANA zone the cron is read in, e.g. 'Europe/Berlin' (sent as QStash's CRON_TZ=). "
            "Blank means UTC."
        ),
    )
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Unticked, the schedule is paused on QStash.")
    )
    retries = models.PositiveSmallIntegerField(
        _("retries"),
        null=True,
        blank=True,
        help_text=_(
            "QStash retries per run; blank uses the task's max_retries, else QStash's default."
        ),
    )
    timeout = models.PositiveIntegerField(
        _("timeout (seconds)"),
        null=True,
        blank=True,
        help_text=_("How long QStash waits for the webhook; blank uses the task's or the plan's."),
    )
    queue = models.CharField(
        _("queue"),
        max_length=100,
        blank=True,
        default="",
        validators=[QSTASH_NAME],
        help_text=_("Enqueue each run to this QStash queue; blank uses the task's, if any."),
    )
    description = models.TextField(_("description"), blank=True, default="")

    schedule_id = models.CharField(
        _("QStash schedule id"),
        max_length=255,
        unique=True,
        default=new_schedule_id,
        editable=False,
        validators=[QSTASH_NAME],
        help_text=_("Stable: every sync upserts the QStash schedule with this id."),
    )
    # Sync state: written by the sync service with update(), never through save().
    needs_sync = models.BooleanField(_("needs sync"), default=True, editable=False)
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True, editable=False)
    sync_error = models.TextField(_("last sync error"), blank=True, default="", editable=False)
    #: A digest of what was last pushed (upserts are skipped when nothing changed).
    synced_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)
    #: Whether the schedule was active on QStash after the last successful sync (None: never).
    synced_active = models.BooleanField(null=True, editable=False)

    # Runs, counted by the webhook's hooks (see runs.py) with update(), never through save().
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True, editable=False)
    last_run_status = models.CharField(
        _("last run status"), max_length=10, blank=True, default="", editable=False
    )
    run_count = models.PositiveIntegerField(_("runs"), default=0, editable=False)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        # Django's default name, declared: without it, defining the model loads the database
        # backend (to truncate the name) during django.setup().
        db_table = "django_qstash_schedules_taskschedule"
        verbose_name = _("task schedule")
        verbose_name_plural = _("task schedules")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        fields = None if update_fields is None else set(update_fields)
        self.validate_invariants(fields)
        # Anything saved through save() differs from QStash until the sync after commit.
        self.needs_sync = True
        self.sync_error = ""
        if fields is not None:
            kwargs["update_fields"] = {*fields, "needs_sync", "sync_error", "updated_at"}
        elif not self._state.adding and not kwargs.get("force_insert") and not args:
            # The sync service owns the record of what QStash holds: an instance loaded before
            # a sync must not write its stale copy back.
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in SYNC_RECORD_FIELDS
            ]
        super().save(*args, **kwargs)

    # ------------------------------------------------------------------ derived values

    @property
    def qstash_cron(self) -> str:
        """The cron as QStash receives it (``CRON_TZ=<zone> `` prefixed when zoned)."""
        return qstash_cron(self.cron, self.timezone)

    def cron_info(self, count: int = 5) -> CronInfo:
        """Human-readable text and the next ``count`` run times (no network)."""
        return inspect_cron(self.cron, self.timezone, count=count)

    @property
    def sync_state(self) -> str:
        """``"synced"``, ``"pending"`` (not pushed yet) or ``"failed"`` (see sync_error)."""
        if self.sync_error:
            return "failed"
        if self.needs_sync or self.last_synced_at is None:
            return "pending"
        return "synced"

    # ------------------------------------------------------------------ validation

    def _normalise(self) -> None:
        # "CRON_TZ=Europe/Berlin 0 4 * * *" (QStash's notation) -> cron + timezone.
        cron, zone = split_timezone(self.cron or "")
        if zone:
            if self.timezone and self.timezone != zone:
                raise ValidationError(
                    {
                        "cron": _(
                            "The cron says CRON_TZ=%(cron_zone)s but the time zone is "
                            "%(zone)s: keep one."
                        )
                        % {"cron_zone": zone, "zone": self.timezone}
                    }
                )
            self.timezone = zone
        self.cron = cron
        self.timezone = (self.timezone or "").strip()
        # A blank admin field gives None: no arguments.
        if self.args is None:
            self.args = []
        if self.kwargs is None:
            self.kwargs = {}
        self.queue = (self.queue or "").strip()

    def clean_fields(self, exclude: Any = None) -> None:
        self._normalise()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        self._check_arguments(errors, deep=True)
        if errors:
            raise ValidationError(errors)

    def _check_arguments(self, errors: dict[str, list[str]], *, deep: bool) -> None:
        if not isinstance(self.args, list):
            errors.setdefault("args", []).append(
                str(_("Positional arguments must be a JSON array, e.g. [1, 2]."))
            )
        if not isinstance(self.kwargs, dict):
            errors.setdefault("kwargs", []).append(
                str(_('Keyword arguments must be a JSON object, e.g. {"key": "value"}.'))
            )
        try:
            task = hooks.get_task(self.task_name)
        except hooks.TaskNotRegistered:
            errors.setdefault("task_name", []).append(
                _(
                    "No task named %(name)r is registered: pick one of `python manage.py "
                    "available_tasks`."
                )
                % {"name": self.task_name}
            )
            return
        if errors or not deep:
            return
        try:
            hooks.build_message(self.task_name, self.args, self.kwargs)
        except hooks.ArgumentsNotSerializable as exc:
            errors.setdefault("args", []).append(str(exc))
            return
        try:
            task.bind_arguments(list(self.args), dict(self.kwargs))
        except TypeError as exc:
            errors.setdefault("args", []).append(
                _("These arguments do not fit the task: %(error)s") % {"error": exc}
            )

    def validate_invariants(self, fields: set[str] | None = None) -> None:
        """What ``save()`` enforces even without ``full_clean()``: a cron QStash accepts, a
        real time zone, a registered task, JSON-shaped arguments and QStash-valid names."""
        self._normalise()
        errors: dict[str, list[str]] = {}

        def check(field: str, validator: Any, value: Any) -> None:
            if fields is not None and field not in fields:
                return
            try:
                validator(value)
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)

        check("cron", validate_cron, self.cron)
        check("timezone", validate_timezone, self.timezone)
        if self.queue:
            check("queue", QSTASH_NAME, self.queue)
        check("schedule_id", QSTASH_NAME, self.schedule_id)
        if fields is None or fields & {"task_name", "args", "kwargs"}:
            self._check_arguments(errors, deep=False)
        if errors:
            raise ValidationError(errors)


class ScheduleDeletion(models.Model):
    """A schedule deleted here whose QStash schedule is still to be deleted.

    Written in the same transaction as the delete, removed once QStash confirms; so a delete
    that could not reach QStash is retried by ``task_schedules --sync`` (and never re-adopted).
    """

    schedule_id = models.CharField(_("QStash schedule id"), max_length=255, unique=True)
    name = models.CharField(_("name"), max_length=200)
    task_name = models.CharField(_("task"), max_length=255)
    error = models.TextField(_("last error"), blank=True, default="")
    deleted_at = models.DateTimeField(_("deleted here"), auto_now_add=True)
    attempted_at = models.DateTimeField(_("last attempt"), null=True, blank=True)

    class Meta:
        db_table = "django_qstash_schedules_scheduledeletion"
        verbose_name = _("pending QStash deletion")
        verbose_name_plural = _("pending QStash deletions")
        ordering = ("-deleted_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule_id})"
