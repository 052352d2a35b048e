"""Queues: upsert, list, get (with ``lag``), delete, pause and resume (``/v2/queues``)."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import NAME, ApiContext, Request, Response, Route, route
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.options import check_name
from django_qstash.devserver.store import Queue


def _queue_to_api(queue: Queue, lag: int) -> dict[str, Any]:
    return {
        "name": queue.name,
        "parallelism": queue.parallelism,
        "createdAt": queue.created_ms,
        "updatedAt": queue.updated_ms,
        "lag": lag,
        "paused": queue.paused,
    }


def _lag(ctx: ApiContext) -> dict[str, int]:
    return {name: waiting for name, (_, waiting) in ctx.store.queue_activity().items()}


def _existing(ctx: ApiContext, name: str) -> Queue:
    queue = ctx.store.get_queue(name)
    if queue is None:
        raise NotFound(f"queue {name!r} not found")
    return queue


def upsert_queue(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    body = request.json()
    if not isinstance(body, dict):
        raise InvalidValue("send a JSON object: {queueName, parallelism, paused}")
    name = check_name("queue name", str(body.get("queueName") or ""))
    parallelism = body.get("parallelism", 1)
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
        raise InvalidValue("parallelism must be a positive integer")
    paused = bool(body.get("paused", False))
    ctx.store.upsert_queue(name, now_ms=now_ms(), parallelism=parallelism, paused=paused)
    ctx.engine.wake()
    return Response(200, {})


def list_queues(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    lag = _lag(ctx)
    return Response(200, [_queue_to_api(q, lag.get(q.name, 0)) for q in ctx.store.list_queues()])


def get_queue(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    queue = _existing(ctx, match["name"])
    return Response(200, _queue_to_api(queue, _lag(ctx).get(queue.name, 0)))


def delete_queue(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    _existing(ctx, match["name"])
    for stored in ctx.store.list_messages({"queue_name": match["name"]}):
        ctx.engine.cancel(stored.message.id)
    ctx.store.delete_queue(match["name"])
    return Response(200, {})


def pause_queue(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    _existing(ctx, match["name"])
    ctx.store.upsert_queue(match["name"], now_ms=now_ms(), paused=match["action"] == "pause")
    ctx.engine.wake()
    return Response(200, {})


ROUTES: list[Route] = [
    route("POST", r"^/v2/queues/?$", upsert_queue),
    route("GET", r"^/v2/queues/?$", list_queues),
    route("GET", rf"^/v2/queues/{NAME}$", get_queue),
    route("DELETE", rf"^/v2/queues/{NAME}$", delete_queue),
    route("POST", rf"^/v2/queues/{NAME}/(?P<action>pause|resume)$", pause_queue),
]
