"""Logs: ``/v2/events`` (what the SDKs call) and ``/v2/logs``, with filters and a cursor."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import (
    ApiContext,
    Request,
    Response,
    Route,
    int_param,
    route,
    time_range,
)

DEFAULT_EVENTS_PAGE = 1000
MAX_EVENTS_PAGE = 10_000


def list_events(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    count = int_param(request, "count", DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)
    message_ids = [v for value in request.params.get("messageIds", []) for v in value.split(",")]
    filters: dict[str, Any] = {
        "message_id": request.param("messageId") or None,
        "message_id in": message_ids or None,
        "state": request.param("state") or None,
        "url": request.param("url") or None,
        "topic_name": request.param("topicName") or None,
        "queue_name": request.param("queueName") or None,
        "schedule_id": request.param("scheduleId") or None,
        "label": request.param("label") or None,
        **time_range(request),
    }
    cursor = request.param("cursor")
    if cursor:
        filters["id <"] = int(cursor) if cursor.isdigit() else 0
    rows = ctx.store.list_events(filters, count + 1)
    events = [data for _, data in rows[:count]]
    payload: dict[str, Any] = {"events": events}
    if match["kind"] == "logs":
        payload["logs"] = events
    if len(rows) > count:
        payload["cursor"] = str(rows[count - 1][0])
    return Response(200, payload)


ROUTES: list[Route] = [route("GET", r"^/v2/(?P<kind>events|logs)/?$", list_events)]
