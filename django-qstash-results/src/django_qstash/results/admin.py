"""A read-only admin for task results, with "requeue" and "delete" actions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from django_qstash import hooks
from django_qstash.results import dashboard  # noqa: F401 - registers the dashboard
from django_qstash.results.models import TaskResult

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[TaskResult]
else:  # ModelAdmin is generic for type checkers only
    _ModelAdmin = admin.ModelAdmin


def _pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@admin.register(TaskResult)
class TaskResultAdmin(_ModelAdmin):
    list_display = (
        "task_id",
        "task_name",
        "status",
        "attempts",
        "date_created",
        "date_started",
        "date_done",
        "duration_display",
    )
    list_filter = ("status", "task_name", "date_created", "date_done")
    search_fields = ("task_id", "request_id", "task_name")
    ordering = ("-date_created",)
    list_per_page = 50
    # COUNT(*) over a large table on every page view is slow; the paginator says "show all".
    show_full_result_count = False
    actions = ["requeue_selected"]
    readonly_fields = (
        "task_id",
        "request_id",
        "task_name",
        "status",
        "attempts",
        "schedule_id",
        "republished",
        "args_display",
        "kwargs_display",
        "result_display",
        "result_is_repr",
        "exception_type",
        "exception_message",
        "traceback_display",
        "date_created",
        "date_started",
        "date_done",
        "duration_display",
    )
    fieldsets = (
        (
            None,
            {"fields": ("task_id", "request_id", "task_name", "status", "attempts", "schedule_id")},
        ),
        ("Arguments", {"fields": ("args_display", "kwargs_display")}),
        (
            "Outcome",
            {
                "fields": (
                    "result_display",
                    "result_is_repr",
                    "republished",
                    "exception_type",
                    "exception_message",
                    "traceback_display",
                )
            },
        ),
        ("Times", {"fields": ("date_created", "date_started", "date_done", "duration_display")}),
    )

    # ------------------------------------------------------------------ read-only

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") and (
            request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
            or request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")
        )

    # ------------------------------------------------------------------ display

    @admin.display(description="duration", ordering="duration")
    def duration_display(self, obj: TaskResult) -> str:
        if obj.duration is None:
            return "-"
        if obj.duration < 1:
            return f"{obj.duration * 1000:.1f} ms"
        return f"{obj.duration:.2f} s"

    @admin.display(description="args")
    def args_display(self, obj: TaskResult) -> str:
        return format_html("<pre>{}</pre>", _pretty_json(obj.args))

    @admin.display(description="kwargs")
    def kwargs_display(self, obj: TaskResult) -> str:
        return format_html("<pre>{}</pre>", _pretty_json(obj.kwargs))

    @admin.display(description="result")
    def result_display(self, obj: TaskResult) -> str:
        if obj.result_is_repr:
            return format_html("<pre>{}</pre>", obj.result)
        return format_html("<pre>{}</pre>", _pretty_json(obj.result))

    @admin.display(description="traceback")
    def traceback_display(self, obj: TaskResult) -> str:
        if not obj.traceback:
            return "-"
        return format_html(
            '<pre style="white-space: pre-wrap; font-size: 12px;">{}</pre>', obj.traceback
        )

    # ------------------------------------------------------------------ actions

    @admin.action(description="Requeue selected tasks (publish again)", permissions=["requeue"])
    def requeue_selected(self, request: HttpRequest, queryset: QuerySet[TaskResult]) -> None:
        published: list[str] = []
        for row in queryset.only("task_id", "task_name", "args", "kwargs"):
            try:
                task = hooks.get_task(row.task_name)
                result = task.apply_async(list(row.args or []), dict(row.kwargs or {}))
            except hooks.DjangoQStashError as exc:
                self.message_user(
                    request,
                    f"Could not requeue {row.task_name} [{row.task_id}]: {exc}",
                    messages.ERROR,
                )
            except (TypeError, ValueError) as exc:
                self.message_user(
                    request,
                    f"Could not requeue {row.task_name} [{row.task_id}]: the stored arguments "
                    f"no longer fit the task ({exc})",
                    messages.ERROR,
                )
            else:
                published.append(result.id)
        if published:
            self.message_user(
                request,
                f"Requeued {len(published)} task(s) as new message(s): {', '.join(published)}",
                messages.SUCCESS,
            )
