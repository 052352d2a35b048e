"""The dashboard in the admin: per task runs, outcomes, retries and durations over a window,
a chart of outcomes over time, the latest failures, and what is pending or retrying.

It is the changelist of :class:`TaskDashboard` (a proxy of :class:`TaskResult`), so it sits on
the admin index and in the sidebar, and needs the permission to view task results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from django_qstash.results import charts, metrics
from django_qstash.results.display import exact_time, human_duration
from django_qstash.results.models import TaskDashboard, TaskResult

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[TaskDashboard]
else:  # ModelAdmin is generic for type checkers only
    _ModelAdmin = admin.ModelAdmin


def _can_view_results(request: HttpRequest) -> bool:
    opts = TaskResult._meta
    user = request.user
    return bool(
        user.is_active
        and user.is_staff
        and (
            user.has_perm(f"{opts.app_label}.view_{opts.model_name}")
            or user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        )
    )


@admin.register(TaskDashboard)
class TaskDashboardAdmin(_ModelAdmin):
    class Media:
        css = {"all": ("django_qstash_results/admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _can_view_results(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _can_view_results(request)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        window = request.GET.get("window", metrics.DEFAULT_WINDOW)
        if window not in metrics.WINDOWS:
            messages.warning(
                request,
                f"Unknown window {window!r}: showing {metrics.DEFAULT_WINDOW}. "
                f"Choose one of {', '.join(metrics.WINDOWS)}.",
            )
            window = metrics.DEFAULT_WINDOW
        figures = metrics.collect(window)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "title": f"Task dashboard: the last {window}",
            "subtitle": None,
            "opts": self.model._meta,
            "media": self.media,
            "figures": figures,
            "totals": figures.totals,
            "failure_rate": f"{figures.totals.failure_rate:.1%}",
            "window": window,
            "windows": list(metrics.WINDOWS),
            "chart": charts.outcomes_svg(figures.buckets, metrics.WINDOWS[window][1]),
            "legend": charts.legend(),
            "task_rows": [self._task_row(row, figures) for row in figures.tasks],
            "failures": [self._failure_row(f) for f in figures.latest_failures],
            "results_url": reverse(
                f"{self.admin_site.name}:django_qstash_results_taskresult_changelist"
            ),
        }
        return TemplateResponse(request, "admin/django_qstash_results/dashboard.html", context)

    def _task_row(self, row: metrics.TaskFigures, figures: metrics.Metrics) -> dict[str, Any]:
        changelist = reverse(f"{self.admin_site.name}:django_qstash_results_taskresult_changelist")
        query = {"task_name": row.task_name, "date_created__gte": exact_time(figures.since)}
        return {
            "name": row.task_name,
            "runs": row.runs,
            "successes": row.successes,
            "failures": row.failures,
            "retries": row.retries,
            "failure_rate": f"{row.failure_rate:.1%}",
            "p50": human_duration(row.p50),
            "p95": human_duration(row.p95),
            "url": f"{changelist}?{urlencode(query)}",
            "failures_url": f"{changelist}?{urlencode({**query, 'status__exact': 'FAILURE'})}",
        }

    def _failure_row(self, failure: metrics.Failure) -> dict[str, Any]:
        return {
            "task_name": failure.task_name,
            "task_id": failure.task_id,
            "when": exact_time(failure.date_done),
            "error": failure.error,
            "traceback": "\n".join(failure.traceback_head),
            "url": reverse(
                f"{self.admin_site.name}:django_qstash_results_taskresult_change",
                args=[failure.pk],
            ),
        }
