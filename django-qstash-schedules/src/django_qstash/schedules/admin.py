"""Admin for task schedules: registered-task dropdown, checked cron with its description and next
runs, sync state, and the actions pause, resume, run now and sync now.

Showing a page never calls QStash: everything displayed comes from the database (and croniter).
QStash is called only when a schedule is saved or deleted, or when an action asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_qstash.schedules import sync
from django_qstash.schedules.conf import conf
from django_qstash.schedules.forms import TaskScheduleForm
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule

if TYPE_CHECKING:
    _ScheduleAdmin = admin.ModelAdmin[TaskSchedule]
    _DeletionAdmin = admin.ModelAdmin[ScheduleDeletion]
else:  # ModelAdmin is generic for type checkers only
    _ScheduleAdmin = _DeletionAdmin = admin.ModelAdmin

_SAVED_ATTR = "_django_qstash_saved_schedule"
_STATE_COLOURS = {"synced": "#2e7d32", "pending": "#8a6d00", "failed": "#ba2121"}
# Mid-tone colours: readable on the admin's light and dark backgrounds.
_RUN_COLOURS = {"SUCCESS": "#2e9e4f", "FAILURE": "#d93838", "RETRY": "#e69500"}


def _report(
    request: HttpRequest, admin_: admin.ModelAdmin[Any], done: str, failures: dict[str, str]
) -> None:
    if done:
        admin_.message_user(request, done, messages.SUCCESS)
    for name, error in failures.items():
        admin_.message_user(
            request,
            format_html(
                "{}: not synced to QStash. {} The change is kept here, marked unsynced; use "
                "“Sync now” or <code>python manage.py task_schedules --sync</code> to retry.",
                name,
                error,
            ),
            messages.ERROR,
        )


@admin.register(TaskSchedule)
class TaskScheduleAdmin(_ScheduleAdmin):
    form = TaskScheduleForm
    list_display = (
        "name",
        "task_name",
        "schedule_display",
        "is_active",
        "last_run_display",
        "next_run_display",
        "run_count",
        "sync_status",
    )
    list_filter = ("is_active", "needs_sync", "task_name")
    search_fields = ("name", "task_name", "description", "schedule_id")
    ordering = ("name",)
    actions = ["pause_schedules", "resume_schedules", "run_now", "sync_now"]
    readonly_fields = (
        "cron_description",
        "next_runs",
        "last_run_display",
        "run_count",
        "schedule_id",
        "sync_status",
        "last_synced_at",
        "sync_error_display",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "task_name", "is_active", "description")}),
        (
            _("Schedule"),
            {
                "fields": (
                    "cron",
                    "timezone",
                    "cron_description",
                    "next_runs",
                    "last_run_display",
                    "run_count",
                )
            },
        ),
        (_("Arguments"), {"fields": ("args", "kwargs")}),
        (
            _("Delivery options"),
            {"classes": ("collapse",), "fields": ("retries", "timeout", "queue")},
        ),
        (
            _("QStash"),
            {
                "fields": (
                    "schedule_id",
                    "sync_status",
                    "last_synced_at",
                    "sync_error_display",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    # ------------------------------------------------------------------ columns and fields

    @admin.display(description=_("schedule"), ordering="cron")
    def schedule_display(self, obj: TaskSchedule) -> SafeString:
        info = obj.cron_info(count=0)
        return format_html(
            '<code>{}</code><br><span class="help">{}</span>',
            obj.qstash_cron,
            info.description or info.error,
        )

    @admin.display(description=_("last run"), ordering="last_run_at")
    def last_run_display(self, obj: TaskSchedule | None) -> SafeString | str:
        if obj is None or obj.last_run_at is None:
            return str(_("never"))
        when = timezone.localtime(obj.last_run_at).strftime("%Y-%m-%d %H:%M:%S")
        colour = _RUN_COLOURS.get(obj.last_run_status, "inherit")
        return format_html(
            '{}<br><strong style="color:{}">{}</strong>', when, colour, obj.last_run_status
        )

    @admin.display(description=_("next run"))
    def next_run_display(self, obj: TaskSchedule) -> str:
        if not obj.is_active:
            return str(_("paused"))
        info = obj.cron_info(count=1)
        if info.error or not info.runs:
            return "-"
        return timezone.localtime(info.runs[0]).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description=_("sync state"), ordering="needs_sync")
    def sync_status(self, obj: TaskSchedule) -> SafeString:
        state = obj.sync_state
        label = {"synced": _("Synced"), "pending": _("Not synced yet"), "failed": _("Sync failed")}[
            state
        ]
        if state == "failed":
            return format_html(
                '<strong style="color:{}">{}</strong><br><span class="help">{}</span>',
                _STATE_COLOURS[state],
                label,
                obj.sync_error[:300],
            )
        return format_html('<span style="color:{}">{}</span>', _STATE_COLOURS[state], label)

    @admin.display(description=_("in words"))
    def cron_description(self, obj: TaskSchedule | None) -> str:
        if obj is None or not obj.pk:
            return str(_("Shown once the schedule is saved."))
        info = obj.cron_info(count=0)
        return info.description or info.error

    @admin.display(description=_("next five runs"))
    def next_runs(self, obj: TaskSchedule | None) -> SafeString | str:
        if obj is None or not obj.pk:
            return str(_("Shown once the schedule is saved."))
        info = obj.cron_info(count=5)
        if info.error:
            return info.error
        current = timezone.get_current_timezone()
        rows = (
            (
                run.strftime("%a %Y-%m-%d %H:%M %Z"),
                run.astimezone(current).strftime("%Y-%m-%d %H:%M %Z"),
            )
            for run in info.runs
        )
        items = format_html_join("", "<li>{} <span class='help'>({})</span></li>", rows)
        suffix = "" if obj.is_active else str(_("(paused: none of these will run)"))
        return format_html('<ol class="djq-next-runs">{}</ol>{}', items, suffix)

    @admin.display(description=_("last sync error"))
    def sync_error_display(self, obj: TaskSchedule | None) -> SafeString | str:
        if obj is None or not obj.sync_error:
            return "-"
        return format_html(
            '<span style="color:{}">{}</span>', _STATE_COLOURS["failed"], obj.sync_error
        )

    # ------------------------------------------------------------------ saving

    def save_model(self, request: HttpRequest, obj: TaskSchedule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        setattr(request, _SAVED_ATTR, obj.pk)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The sync runs when the view's transaction commits, i.e. inside this call.
        response = super().changeform_view(request, object_id, form_url, extra_context)
        pk = getattr(request, _SAVED_ATTR, None)
        if pk is not None:
            self._report_sync(request, pk)
        return response

    def _report_sync(self, request: HttpRequest, pk: int) -> None:
        row = TaskSchedule.objects.filter(pk=pk).first()
        if row is None:
            return
        if row.sync_error:
            _report(request, self, "", {row.name: row.sync_error})
        elif not row.needs_sync:
            state = _("active") if row.is_active else _("paused")
            self.message_user(
                request,
                format_html(
                    "QStash schedule <code>{}</code> is up to date ({}).", row.schedule_id, state
                ),
                messages.SUCCESS,
            )
        elif conf.AUTO_SYNC:
            # ATOMIC_REQUESTS: the commit (and so the sync) comes after this view returns.
            self.message_user(
                request,
                _("The QStash schedule is updated when this request's transaction commits."),
                messages.INFO,
            )
        else:
            self.message_user(
                request,
                _(
                    "Saved without syncing (DJANGO_QSTASH_SCHEDULES_AUTO_SYNC is off): use “Sync "
                    "now” or task_schedules --sync."
                ),
                messages.WARNING,
            )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        pending = list(ScheduleDeletion.objects.all()[:6])
        if pending:
            names = ", ".join(d.name for d in pending[:5]) + ("…" if len(pending) > 5 else "")
            last_error = next((d.error for d in pending if d.error), "")
            self.message_user(
                request,
                format_html(
                    "Deleted here but not yet on QStash: {}. {} Run <code>python manage.py "
                    "task_schedules --sync</code> to finish.",
                    names,
                    last_error,
                ),
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    # ------------------------------------------------------------------ actions

    @admin.action(permissions=["change"], description=_("Pause selected schedules (on QStash)"))
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet[TaskSchedule]) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(permissions=["change"], description=_("Resume selected schedules (on QStash)"))
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[TaskSchedule]) -> None:
        self._set_active(request, queryset, active=True)

    def _set_active(
        self, request: HttpRequest, queryset: QuerySet[TaskSchedule], *, active: bool
    ) -> None:
        rows = list(queryset)
        failures = sync.set_active(rows, active)
        done = len(rows) - len(failures)
        if active:
            message = ngettext("Resumed %d schedule.", "Resumed %d schedules.", done)
        else:
            message = ngettext("Paused %d schedule.", "Paused %d schedules.", done)
        _report(request, self, message % done if done else "", failures)

    @admin.action(
        permissions=["change"], description=_("Run selected schedules now (publish once)")
    )
    def run_now(self, request: HttpRequest, queryset: QuerySet[TaskSchedule]) -> None:
        for row in queryset:
            try:
                message_id = sync.run_now(row)
            except sync.ScheduleSyncError as exc:
                self.message_user(request, f"{row.name}: not run. {exc}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    format_html(
                        "{}: published one run of {} (message <code>{}</code>).",
                        row.name,
                        row.task_name,
                        message_id,
                    ),
                    messages.SUCCESS,
                )

    @admin.action(permissions=["change"], description=_("Sync selected schedules to QStash now"))
    def sync_now(self, request: HttpRequest, queryset: QuerySet[TaskSchedule]) -> None:
        rows = list(queryset)
        failures = sync.sync_queryset(rows, force=True)
        done = len(rows) - len(failures)
        _report(
            request,
            self,
            ngettext("Synced %d schedule to QStash.", "Synced %d schedules to QStash.", done) % done
            if done
            else "",
            failures,
        )


@admin.register(ScheduleDeletion)
class ScheduleDeletionAdmin(_DeletionAdmin):
    """Schedules deleted here whose QStash schedule could not be deleted yet."""

    list_display = ("name", "schedule_id", "task_name", "deleted_at", "attempted_at", "error")
    readonly_fields = ("name", "schedule_id", "task_name", "deleted_at", "attempted_at", "error")
    actions = ["retry_deletion"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(permissions=["delete"], description=_("Delete on QStash now"))
    def retry_deletion(self, request: HttpRequest, queryset: QuerySet[ScheduleDeletion]) -> None:
        failures: dict[str, str] = {}
        done = 0
        for deletion in queryset:
            error = sync.process_deletion(deletion)
            if error:
                failures[deletion.name] = error
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("Deleted %d schedule on QStash.", "Deleted %d schedules on QStash.", done)
                % done,
                messages.SUCCESS,
            )
        for name, error in failures.items():
            self.message_user(request, f"{name}: {error}", messages.ERROR)
