"""The QStash REST API (``/v2/...``): authentication, routing to the resources' handlers, errors.

Each resource's handlers and routes live in their own module; a new resource adds its module's
``ROUTES`` to :data:`RESOURCES`.
"""

from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Sequence

from django_qstash.devserver.api import (
    dlq,
    flow_control,
    logs,
    messages,
    publish,
    queues,
    schedules,
    signing_keys,
    url_groups,
    workflows,
)
from django_qstash.devserver.api.base import ApiContext, ApiError, Request, Response, Route
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import NotFound

RESOURCES: tuple[Sequence[Route], ...] = (
    publish.ROUTES,
    messages.ROUTES,
    dlq.ROUTES,
    logs.ROUTES,
    signing_keys.ROUTES,
    queues.ROUTES,
    schedules.ROUTES,
    url_groups.ROUTES,
    flow_control.ROUTES,
    workflows.ROUTES,
)
#: Captured path segments that are names or ids (percent-decoded); a destination stays raw.
_DECODED = ("id", "name", "queue", "key")


class Api:
    def __init__(self, context: ApiContext, resources: Sequence[Sequence[Route]] = RESOURCES):
        self.context = context
        self.routes = [r for routes in resources for r in routes]

    def handle(self, request: Request) -> Response:
        try:
            if request.path in ("/", "") and request.method in ("GET", "HEAD"):
                return Response(200, {"status": "QStash dev server (django-qstash) is running"})
            self._authenticate(request)
            return self._route(request)
        except ApiError as exc:
            return Response(exc.status, {"error": str(exc)})
        except InvalidValue as exc:
            return Response(400, {"error": str(exc)})
        except NotFound as exc:
            return Response(404, {"error": str(exc)})
        except ValueError as exc:  # e.g. a non-numeric filter
            return Response(400, {"error": f"invalid request: {exc}"})

    def _route(self, request: Request) -> Response:
        allowed: set[str] = set()
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            if method != request.method:
                allowed.add(method)
                continue
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            for key in _DECODED:
                if key in groups:
                    groups[key] = urllib.parse.unquote(groups[key])
            return handler(self.context, request, groups)
        if allowed:
            return Response(
                405,
                {"error": f"method {request.method} not allowed on {request.path}"},
                {"Allow": ", ".join(sorted(allowed))},
            )
        return Response(404, {"error": f"not found: {request.method} {request.path}"})

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            token = request.param("qstash_token") or ""
        token = token.strip()
        if not token:
            raise ApiError(401, "missing token: send 'Authorization: Bearer <QSTASH_TOKEN>'")
        if not hmac.compare_digest(token.encode(), self.context.token.encode()):
            raise ApiError(401, "invalid token: use the QSTASH_TOKEN this dev server printed")
