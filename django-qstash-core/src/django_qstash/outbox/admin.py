"""The outbox in the admin: what waits, how often it was tried, why it failed; publish now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.timesince import timesince

from django_qstash.outbox import relay
from django_qstash.outbox.models import OutboxMessage

if TYPE_CHECKING:
    _OutboxAdmin = admin.ModelAdmin[OutboxMessage]
else:  # ModelAdmin is generic for type checkers only
    _OutboxAdmin = admin.ModelAdmin


class PendingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: _OutboxAdmin) -> list[tuple[str, str]]:
        return [("pending", "pending"), ("published", "published")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[OutboxMessage]
    ) -> QuerySet[OutboxMessage]:
        state = self.value()
        if state not in ("pending", "published"):
            return queryset
        filtered: QuerySet[OutboxMessage] = queryset.filter(published_at__isnull=state == "pending")
        return filtered


@admin.register(OutboxMessage)
class OutboxMessageAdmin(_OutboxAdmin):
    list_display = (
        "id",
        "task_name",
        "state",
        "attempts",
        "age",
        "next_attempt",
        "short_error",
    )
    list_filter = (PendingFilter, "task_name")
    search_fields = ("task_name", "deduplication_id", "message_id")
    readonly_fields = tuple(f.name for f in OutboxMessage._meta.fields)
    actions = ("publish_now",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OutboxMessage | None = None) -> bool:
        return False

    @admin.display(description="state")
    def state(self, obj: OutboxMessage) -> str:
        return "pending" if obj.pending else "published"

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: OutboxMessage) -> str:
        return timesince(obj.created_at, depth=1)

    @admin.display(description="next attempt", ordering="available_at")
    def next_attempt(self, obj: OutboxMessage) -> str:
        if not obj.pending:
            return "—"
        return obj.available_at.strftime("%H:%M:%S")

    @admin.display(description="last error")
    def short_error(self, obj: OutboxMessage) -> str:
        # The whole error is on the row's page; the list stays one line per row at 1280 px.
        limit = 32
        error = obj.last_error
        return error if len(error) <= limit else error[: limit - 1] + "…"

    @admin.action(description="Publish now")
    def publish_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        pks = list(queryset.filter(published_at__isnull=True).values_list("pk", flat=True))
        report = relay.publish_pks(queryset.db, pks)
        if report.published:
            self.message_user(
                request, f"Published {report.published} message(s).", messages.SUCCESS
            )
        if report.failed:
            self.message_user(
                request,
                f"{report.failed} message(s) not published: {report.errors[0]}",
                messages.ERROR,
            )
        if not pks:
            self.message_user(request, "No pending message selected.", messages.WARNING)
