"""Flow control (``/v2/flowControl``) and the global parallelism (``/v2/globalParallelism``)."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import ApiContext, Request, Response, Route, int_param, route
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import parse_duration


def _flow_info(ctx: ApiContext, key: str) -> dict[str, Any]:
    waiting = len(ctx.store.list_messages({"flow_key": key, "in_flight": 0}))
    return ctx.flow.info(key, waiting)


def list_flow_control(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    return Response(200, [_flow_info(ctx, key) for key in ctx.flow.known_keys()])


def get_flow_control(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    return Response(200, _flow_info(ctx, match["key"]))


def change_flow_control(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    key, action = match["key"], match["action"]
    flow = ctx.flow
    if action in ("pause", "resume"):
        flow.set_paused(key, action == "pause")
    elif action == "resetRate":
        # QStash counts an attempt when it starts. Starting what is due first orders a publish
        # before a reset that follows it: the attempt is counted, then the reset clears it.
        ctx.settle_dispatch()
        flow.reset_rate(key, now_ms())
    elif action == "pin":
        period = request.param("period")
        flow.pin(
            key,
            int_param(request, "parallelism", 0) or None,
            int_param(request, "rate", 0) or None,
            parse_duration(period, name="period") if period else None,
        )
    else:
        flow.unpin(
            key,
            (request.param("parallelism") or "").lower() == "true",
            (request.param("rate") or "").lower() == "true",
        )
    ctx.engine.wake()
    return Response(200, {})


def global_parallelism(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    return Response(200, {"parallelismMax": ctx.max_in_flight, "parallelismCount": ctx.in_flight()})


_ACTIONS = r"(?P<action>pause|resume|resetRate|pin|unpin)"

ROUTES: list[Route] = [
    route("GET", r"^/v2/flowControl/?$", list_flow_control),
    route("GET", r"^/v2/flowControl/(?P<key>[^/]+)$", get_flow_control),
    route("POST", rf"^/v2/flowControl/(?P<key>[^/]+)/{_ACTIONS}$", change_flow_control),
    route("GET", r"^/v2/globalParallelism/?$", global_parallelism),
]
