"""What every API handler shares: request and response, errors, routes and parameter parsing.

Transport-free: :class:`Request` in, :class:`Response` out; ``httpserver`` does the HTTP.
Errors have QStash's shape, ``{"error": "..."}``, with its status codes.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import Engine
from django_qstash.devserver.flow import FlowLimiter
from django_qstash.devserver.keys import KeyRing
from django_qstash.devserver.options import Headers
from django_qstash.devserver.schedules import Scheduler
from django_qstash.devserver.store import Store
from django_qstash.devserver.workflows import WorkflowRuns


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    #: The raw path (not percent-decoded) and the raw query string.
    path: str
    query: str
    headers: Headers
    body: bytes
    client_ip: str
    params: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        self.params = urllib.parse.parse_qs(self.query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise InvalidValue("the request body is not valid JSON") from None


@dataclass
class Response:
    status: int = 200
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiContext:
    """The parts of a running server the handlers work on."""

    store: Store
    engine: Engine
    scheduler: Scheduler
    flow: FlowLimiter
    keys: KeyRing
    token: str
    max_in_flight: int
    #: Attempts running right now.
    in_flight: Callable[[], int]
    #: Wait until the dispatcher has started what is due now (``Dispatcher.settle``).
    settle_dispatch: Callable[[], None]
    workflows: WorkflowRuns


Handler = Callable[[ApiContext, Request, dict[str, str]], Response]


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, pattern: str, handler: Handler) -> Route:
    return Route(method, re.compile(pattern), handler)


#: A path segment captured as ``name`` (queue, URL group).
NAME = r"(?P<name>[^/]+)"


def int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise InvalidValue(f"{name} must be positive")
    return min(value, maximum) if maximum else value


def id_list(request: Request, key: str) -> list[str] | None:
    """Ids from a JSON body (the Python SDK) or repeated query params (the JS SDK, openapi)."""
    body = request.json()
    if isinstance(body, dict) and key in body:
        values = body[key]
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidValue(f"{key} must be a list of strings")
        return values
    if key in request.params:
        return [v for value in request.params[key] for v in value.split(",") if v]
    return None


def time_range(request: Request) -> dict[str, int | None]:
    """The ``fromDate``/``toDate`` filters (unix ms) as ``time_ms`` store filters."""
    return {
        "time_ms >=": int(request.param("fromDate") or 0) or None,
        "time_ms <=": int(request.param("toDate") or 0) or None,
    }


def destination_of(request: Request, raw: str) -> str:
    """The destination spliced into the path, with the request's query string."""
    # ``qstash_token`` authenticates the API call; it is not part of the destination.
    query = "&".join(p for p in request.query.split("&") if p and not p.startswith("qstash_token="))
    return raw + ("?" + query if query else "")
