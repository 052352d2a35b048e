"""The Upstash Workflow endpoints: ``DELETE /v2/workflows/runs/{id}`` and the run logs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.workflows import RunNotFound

if TYPE_CHECKING:
    from django_qstash.devserver.api import Handler, Request, Response
    from django_qstash.devserver.server import DevServer

DEFAULT_RUNS_PAGE = 100


class WorkflowApi:
    def __init__(self, server: DevServer) -> None:
        self.server = server

    def routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        return [
            ("DELETE", re.compile(r"^/v2/workflows/runs/(?P<id>[^/]+)$"), self.delete_run),
            ("GET", re.compile(r"^/v2/workflows/logs/?$"), self.logs),
        ]

    def delete_run(self, request: Request, match: dict[str, str]) -> Response:
        from django_qstash.devserver.api import Response

        raw = (request.param("cancel") or "false").strip().lower()
        if raw not in ("true", "false"):
            raise InvalidValue(f"cancel must be true or false, got {raw!r}")
        try:
            cancelled = self.server.workflows.delete(
                match["id"], cancel=raw == "true", engine=self.server.engine, now=now_ms()
            )
        except RunNotFound as exc:
            raise NotFound(str(exc)) from None
        return Response(200, {"workflowRunId": match["id"], "cancelledMessages": cancelled})

    def logs(self, request: Request, _match: dict[str, str]) -> Response:
        from django_qstash.devserver.api import Response, _int_param

        workflows = self.server.workflows
        runs = workflows.list_runs(
            request.param("workflowRunId"), _int_param(request, "count", DEFAULT_RUNS_PAGE)
        )
        return Response(200, {"cursor": "", "runs": [workflows.run_to_api(run) for run in runs]})
