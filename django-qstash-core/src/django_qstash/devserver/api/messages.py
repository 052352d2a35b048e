"""Messages: get one, cancel one, cancel many or a filtered set (``/v2/messages``)."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import (
    ApiContext,
    Request,
    Response,
    Route,
    id_list,
    int_param,
    route,
)
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.message import Message


def _matches(message: Message, request: Request) -> bool:
    """The filters of ``DELETE /v2/messages`` (openapi: query parameters)."""
    checks: dict[str, Any] = {
        "topicName": message.topic_name,
        "queueName": message.queue_name,
        "url": message.url,
        "label": message.label,
        "flowControlKey": message.flow_key,
        "scheduleId": message.schedule_id,
        "callerIp": message.caller_ip,
    }
    for name, value in checks.items():
        wanted = request.param(name)
        if wanted and wanted != value and not (name == "label" and wanted in message.labels):
            return False
    from_date, to_date = request.param("fromDate"), request.param("toDate")
    if from_date and message.created_ms < int(from_date):
        return False
    return not (to_date and message.created_ms > int(to_date))


def get_message(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    stored = ctx.store.get_message(match["id"])
    if stored is None:
        raise NotFound(f"message {match['id']!r} not found")
    return Response(200, stored.message.to_api(stored.body))


def cancel_message(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    if not ctx.engine.cancel(match["id"]):
        raise NotFound(f"message {match['id']!r} not found")
    # The JS SDK's messages.cancel() parses the answer as JSON, so it gets a body.
    return Response(200, {"cancelled": 1})


def cancel_messages(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    ids = id_list(request, "messageIds")
    if ids is not None:
        return Response(200, {"cancelled": sum(ctx.engine.cancel(i) for i in ids)})
    count = int_param(request, "count", 0) or None
    matching = [s.message.id for s in ctx.store.list_messages({}) if _matches(s.message, request)]
    cancelled = sum(ctx.engine.cancel(i) for i in matching[:count])
    return Response(200, {"cancelled": cancelled})


ROUTES: list[Route] = [
    route("GET", r"^/v2/messages/(?P<id>[^/]+)$", get_message),
    route("DELETE", r"^/v2/messages/(?P<id>[^/]+)$", cancel_message),
    route("DELETE", r"^/v2/messages/?$", cancel_messages),
]
