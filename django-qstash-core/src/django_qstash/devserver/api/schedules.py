"""Schedules: create (upsert by id), list, get, delete, pause and resume (``/v2/schedules``)."""

from __future__ import annotations

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
from django_qstash.devserver.options import parse_message
from django_qstash.devserver.schedules import schedule_to_api


def create_schedule(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    cron = request.headers.get("upstash-cron")
    if not cron or not cron.strip():
        raise InvalidValue("the Upstash-Cron header is required")
    template = parse_message(request.headers, now_ms=now_ms(), for_schedule=True)
    schedule_id = request.headers.get("upstash-schedule-id")
    schedule = ctx.scheduler.upsert(
        destination=destination_of(request, match["dest"]),
        cron=cron,
        template=template,
        body=request.body,
        schedule_id=schedule_id.strip() if schedule_id else None,
        caller_ip=request.client_ip,
    )
    return Response(200, {"scheduleId": schedule.id})


def list_schedules(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    return Response(200, [schedule_to_api(s) for s in ctx.store.list_schedules()])


def get_schedule(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    return Response(200, schedule_to_api(ctx.scheduler.get(match["id"])))


def delete_schedule(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    ctx.scheduler.delete(match["id"])
    return Response(200, {})


def pause_schedule(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    ctx.scheduler.set_paused(match["id"], match["action"] == "pause")
    return Response(200, {})


_PAUSE = r"^/v2/schedules/(?P<id>[A-Za-z0-9._-]+)/(?P<action>pause|resume)$"

ROUTES: list[Route] = [
    route("GET", r"^/v2/schedules/?$", list_schedules),
    route("GET", r"^/v2/schedules/(?P<id>[^/]+)$", get_schedule),
    route("DELETE", r"^/v2/schedules/(?P<id>[^/]+)$", delete_schedule),
    # The SDKs pause with PATCH, the openapi document says POST: both are accepted.
    route("PATCH", _PAUSE, pause_schedule),
    route("POST", _PAUSE, pause_schedule),
    # Last: its destination pattern would also match ".../<id>/pause".
    route("POST", r"^/v2/schedules/(?P<dest>.+)$", create_schedule),
]
