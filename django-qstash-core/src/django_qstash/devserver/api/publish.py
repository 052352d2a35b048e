"""Publishing: ``/v2/publish``, ``/v2/enqueue`` and ``/v2/batch``."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import (
    ApiContext,
    Request,
    Response,
    Route,
    destination_of,
    route,
)
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.options import Headers, check_name, parse_destination, parse_message


def _publish(
    ctx: ApiContext,
    request: Request,
    raw_destination: str,
    queue: str | None,
    headers: Headers,
    body: bytes,
) -> tuple[int, Any]:
    destination = parse_destination(raw_destination)
    now = now_ms()
    template = parse_message(headers, now_ms=now)
    template.caller_ip = request.client_ip
    if queue is not None:
        template.queue_name = check_name("queue name", queue)
    # A workflow step and the message that delivers it are stored together, or not at all.
    with ctx.store.transaction():
        body = ctx.workflows.prepare(template, headers, body, now)
        results = ctx.engine.publish(template, body, destination, now)
    deduplicated = all(r.get("deduplicated") for r in results)
    status = 202 if deduplicated else 200
    return status, (results[0] if destination.url is not None else results)


def publish(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    destination = destination_of(request, match["dest"])
    status, payload = _publish(ctx, request, destination, None, request.headers, request.body)
    return Response(status, payload)


def enqueue(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    destination = destination_of(request, match["dest"])
    status, payload = _publish(
        ctx, request, destination, match["queue"], request.headers, request.body
    )
    return Response(status, payload)


def batch(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    items = request.json()
    if not isinstance(items, list):
        raise InvalidValue("the batch body must be a JSON array of messages")
    prepared: list[tuple[str, str | None, Headers, bytes]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("destination"), str):
            raise InvalidValue(f"batch message {index} needs a destination")
        headers = item.get("headers") or {}
        body = item.get("body")
        queue = item.get("queue")
        if not isinstance(headers, dict) or not (body is None or isinstance(body, str)):
            raise InvalidValue(f"batch message {index}: headers must be an object, body a string")
        if queue is not None and not isinstance(queue, str):
            raise InvalidValue(f"batch message {index}: queue must be a string")
        # JS sends lower-case header names; Headers looks them up case-insensitively.
        parse_destination(item["destination"])
        parse_message(Headers.from_mapping(headers), now_ms=now_ms())
        prepared.append(
            (item["destination"], queue, Headers.from_mapping(headers), (body or "").encode())
        )
    # One transaction for the whole batch: all or nothing, and one commit instead of many.
    with ctx.store.transaction():
        responses = [
            _publish(ctx, request, destination, queue, headers, body)[1]
            for destination, queue, headers, body in prepared
        ]
    return Response(200, responses)


ROUTES: list[Route] = [
    route("POST", r"^/v2/publish/(?P<dest>.+)$", publish),
    route("POST", r"^/v2/enqueue/(?P<queue>[^/]+)/(?P<dest>.+)$", enqueue),
    route("POST", r"^/v2/batch/?$", batch),
]
