"""A read-only admin for task results: coloured statuses, times to the second, the attempts
history, the due time of pending rows, and "requeue" (an action, and a button on each row)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from django_qstash import hooks
from django_qstash.results import (
    dashboard,  # noqa: F401 - registers the dashboard
    due,
)
from django_qstash.results.display import exact_time, human_duration, status_badge
from django_qstash.results.models import TaskResult, TaskStatus

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[TaskResult]
else:  # ModelAdmin is generic for type checkers only
    _ModelAdmin = admin.ModelAdmin


def _dotted_parts(name: str) -> list[str]:
    """``"app.tasks.add"`` -> ``["app.", "tasks.", "add"]``."""
    pieces = name.split(".")
    return [piece + "." for piece in pieces[:-1]] + pieces[-1:]


def _pretty_json(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@admin.register(TaskResult)
class TaskResultAdmin(_ModelAdmin):
    # Fits 1280 px with the filters open: the id sits under the task name, times are compact.
    list_display = (
        "task_display",
        "status_display",
        "attempts_display",
        "created_display",
        "started_display",
        "done_display",
        "duration_display",
    )
    list_display_links = ("task_display",)
    list_filter = ("status", "task_name", "date_created", "date_done")
    search_fields = ("task_id", "request_id", "task_name")
    ordering = ("-date_created",)
    list_per_page = 50
    # COUNT(*) over a large table on every page view is slow; the paginator says "show all".
    show_full_result_count = False
    actions = ["requeue_selected"]
    change_form_template = "admin/django_qstash_results/taskresult/change_form.html"
    readonly_fields = (
        "task_id",
        "request_id",
        "task_name",
        "status_display",
        "due_display",
        "attempts",
        "attempt_history_display",
        "schedule_id",
        "republished",
        "args_display",
        "kwargs_display",
        "result_display",
        "result_is_repr",
        "exception_type",
        "exception_message",
        "traceback_display",
        "created_display",
        "started_display",
        "done_display",
        "duration_display",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "task_id",
                    "request_id",
                    "task_name",
                    "status_display",
                    "due_display",
                    "schedule_id",
                )
            },
        ),
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
        ("Attempts", {"fields": ("attempts", "attempt_history_display")}),
        ("Arguments", {"fields": ("args_display", "kwargs_display")}),
        (
            "Times",
            {"fields": ("created_display", "started_display", "done_display", "duration_display")},
        ),
    )

    class Media:
        css = {"all": ("django_qstash_results/admin.css",)}

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """The due time only on a pending row (a finished one has nothing to wait for)."""
        if obj is not None and obj.status == TaskStatus.PENDING:
            return self.fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "due_display"]})
            for name, options in self.fieldsets
        ]

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

    # ------------------------------------------------------------------ pages

    def get_urls(self) -> list[Any]:
        requeue = self.admin_site.admin_view(self.requeue_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_requeue"
        return [path("<path:object_id>/requeue/", requeue, name=name), *super().get_urls()]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        token = due.start_page()
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):  # render now, while the lookup budget applies
                response.render()
            return response
        finally:
            due.end_page(token)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_requeue": self.has_requeue_permission(request)}
        return super().change_view(request, object_id, form_url, context)

    def requeue_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse("POST only", status=405)
        if not self.has_requeue_permission(request):
            raise PermissionDenied
        row = get_object_or_404(TaskResult, pk=object_id)
        self._requeue(request, [row])
        info = (self.opts.app_label, self.opts.model_name)
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:%s_%s_change" % info, args=[row.pk])
        )

    # ------------------------------------------------------------------ display

    @admin.display(description="task", ordering="task_name")
    def task_display(self, obj: TaskResult) -> SafeString:
        short = obj.task_id if len(obj.task_id) <= 16 else f"{obj.task_id[:10]}…{obj.task_id[-4:]}"
        # <wbr> after each dot: a long dotted name breaks between its parts, not mid-word.
        parts = format_html_join(
            mark_safe("<wbr>"), "{}", ((p,) for p in _dotted_parts(obj.task_name))
        )
        return format_html(
            '<strong class="dqr-task">{}</strong><br>'
            '<small class="dqr-muted" title="{}">{}</small>',
            parts,
            obj.task_id,
            short,
        )

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: TaskResult) -> SafeString:
        return status_badge(obj.status)

    @admin.display(description="attempts", ordering="attempts")
    def attempts_display(self, obj: TaskResult) -> SafeString | str:
        errors = obj.attempt_errors or []
        if not errors:
            return str(obj.attempts)
        tip = "\n".join(f"#{e.get('attempt')}: {e.get('type')}: {e.get('message')}" for e in errors)
        failed = len(errors)
        return format_html(
            '{}<br><small class="dqr-muted" title="{}">{} failed</small>', obj.attempts, tip, failed
        )

    @admin.display(description="created", ordering="date_created")
    def created_display(self, obj: TaskResult) -> SafeString:
        day, time_of_day = exact_time(obj.date_created).split(" ")
        created = format_html('<span class="dqr-day">{}</span> {}', day, time_of_day)
        if obj.status != TaskStatus.PENDING:
            return created
        when = due.due_time(obj.task_id)
        if when is None:
            return created
        return format_html('{}<br><small class="dqr-due">due {}</small>', created, exact_time(when))

    @admin.display(description="started", ordering="date_started")
    def started_display(self, obj: TaskResult) -> str:
        return self._time_after_created(obj, obj.date_started)

    @admin.display(description="done", ordering="date_done")
    def done_display(self, obj: TaskResult) -> str:
        return self._time_after_created(obj, obj.date_done)

    @staticmethod
    def _time_after_created(obj: TaskResult, moment: Any) -> str:
        """The time alone when it is on the creation day (the list stays narrow)."""
        text = exact_time(moment)
        if moment is not None and text[:10] == exact_time(obj.date_created)[:10]:
            return text[11:]
        return text

    @admin.display(description="duration", ordering="duration")
    def duration_display(self, obj: TaskResult) -> str:
        return human_duration(obj.duration)

    @admin.display(description="due")
    def due_display(self, obj: TaskResult) -> str:
        if obj.status != TaskStatus.PENDING:
            return "-"
        when = due.due_time(obj.task_id)
        return exact_time(when) if when is not None else "unknown (not held by QStash)"

    @admin.display(description="attempts history")
    def attempt_history_display(self, obj: TaskResult) -> SafeString | str:
        errors = obj.attempt_errors or []
        if not errors:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>#{}</td><td class='dqr-nowrap'>{}</td>"
            "<td><code>{}</code></td><td>{}</td></tr>",
            (
                (
                    e.get("attempt"),
                    (e.get("at") or "").replace("T", " ")[:19],
                    e.get("type"),
                    e.get("message"),
                )
                for e in errors
            ),
        )
        return format_html(
            '<table class="dqr-attempts"><thead><tr><th>attempt</th><th>at</th><th>error</th>'
            "<th>message</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

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

    # ------------------------------------------------------------------ requeue

    @admin.action(description="Requeue selected tasks (publish again)", permissions=["requeue"])
    def requeue_selected(self, request: HttpRequest, queryset: QuerySet[TaskResult]) -> None:
        self._requeue(request, queryset.only("task_id", "task_name", "args", "kwargs"))

    def _requeue(self, request: HttpRequest, rows: Iterable[TaskResult]) -> None:
        published: list[str] = []
        for row in rows:
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
