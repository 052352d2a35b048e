"""The dead-letter queue: list, get, delete and retry (``/v2/dlq``)."""

from __future__ import annotations

import base64
from typing import Any

from django_qstash.devserver.api.base import (
    ApiContext,
    Request,
    Response,
    Route,
    id_list,
    int_param,
    route,
    time_range,
)
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.store import DlqEntry

MAX_DLQ_PAGE = 100


def _dlq_to_api(entry: DlqEntry) -> dict[str, Any]:
    data = entry.message.to_api(entry.body)
    data["dlqId"] = entry.dlq_id
    data["responseStatus"] = entry.response_status
    if entry.response_headers:
        data["responseHeader"] = entry.response_headers
    try:
        data["responseBody"] = entry.response_body.decode("utf-8")
    except UnicodeDecodeError:
        data["responseBodyBase64"] = base64.b64encode(entry.response_body).decode()
    if entry.error:
        data["error"] = entry.error
    return data


def _dlq_filters(request: Request) -> dict[str, Any]:
    status = request.param("responseStatus")
    return {
        "message_id": request.param("messageId") or None,
        "url": request.param("url") or None,
        "topic_name": request.param("topicName") or None,
        "queue_name": request.param("queueName") or None,
        "schedule_id": request.param("scheduleId") or None,
        **time_range(request),
        "response_status": int(status) if status else None,
        "caller_ip": request.param("callerIp") or None,
        "label": request.param("label") or None,
    }


def _selected_ids(ctx: ApiContext, request: Request) -> list[str]:
    """The ids given, or else every entry matching the filters."""
    ids = id_list(request, "dlqIds")
    if ids is None:
        ids = [e.dlq_id for _, e in ctx.store.list_dlq(_dlq_filters(request), None)]
    return ids


def list_dlq(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    count = int_param(request, "count", MAX_DLQ_PAGE, MAX_DLQ_PAGE)
    filters = _dlq_filters(request)
    cursor = request.param("cursor")
    if cursor:
        filters["seq <"] = int(cursor) if cursor.isdigit() else 0
    rows = ctx.store.list_dlq(filters, count + 1)
    payload: dict[str, Any] = {"messages": [_dlq_to_api(e) for _, e in rows[:count]]}
    if len(rows) > count:
        payload["cursor"] = str(rows[count - 1][0])
    return Response(200, payload)


def get_dlq(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    entry = ctx.store.get_dlq(match["id"])
    if entry is None:
        raise NotFound(f"dlq message {match['id']!r} not found")
    return Response(200, _dlq_to_api(entry))


def delete_dlq(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    if not ctx.store.delete_dlq([match["id"]]):
        raise NotFound(f"dlq message {match['id']!r} not found")
    return Response(200, {"deleted": 1})


def delete_dlq_many(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    return Response(200, {"deleted": ctx.store.delete_dlq(_selected_ids(ctx, request))})


def retry_dlq(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    return Response(201, {"messageId": ctx.engine.retry_dlq(match["id"])})


def retry_dlq_many(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    responses = [{"messageId": ctx.engine.retry_dlq(i)} for i in _selected_ids(ctx, request)]
    return Response(201, {"cursor": "", "responses": responses})


ROUTES: list[Route] = [
    route("GET", r"^/v2/dlq/?$", list_dlq),
    route("POST", r"^/v2/dlq/retry/(?P<id>[^/]+)$", retry_dlq),
    route("POST", r"^/v2/dlq/retry/?$", retry_dlq_many),
    route("GET", r"^/v2/dlq/(?P<id>[^/]+)$", get_dlq),
    route("DELETE", r"^/v2/dlq/(?P<id>[^/]+)$", delete_dlq),
    route("DELETE", r"^/v2/dlq/?$", delete_dlq_many),
]
