"""Upstash Workflow: ``DELETE /v2/workflows/runs/{id}`` (cleanup and cancel) and the run logs."""

from __future__ import annotations

from django_qstash.devserver.api.base import ApiContext, Request, Response, Route, int_param, route
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.workflows import RunNotFound

DEFAULT_RUNS_PAGE = 100


def delete_run(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    raw = (request.param("cancel") or "false").strip().lower()
    if raw not in ("true", "false"):
        raise InvalidValue(f"cancel must be true or false, got {raw!r}")
    try:
        cancelled = ctx.workflows.delete(
            match["id"], cancel=raw == "true", cancel_message=ctx.engine.cancel, now=now_ms()
        )
    except RunNotFound as exc:
        raise NotFound(str(exc)) from None
    return Response(200, {"workflowRunId": match["id"], "cancelledMessages": cancelled})


def list_runs(ctx: ApiContext, request: Request, _match: dict[str, str]) -> Response:
    count = int_param(request, "count", DEFAULT_RUNS_PAGE)
    runs = ctx.workflows.list_runs(request.param("workflowRunId"), count)
    return Response(200, {"cursor": "", "runs": [ctx.workflows.run_to_api(run) for run in runs]})


ROUTES: list[Route] = [
    route("DELETE", r"^/v2/workflows/runs/(?P<id>[^/]+)$", delete_run),
    route("GET", r"^/v2/workflows/logs/?$", list_runs),
]
