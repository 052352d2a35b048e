"""Signing keys: get and rotate (``/v2/keys``)."""

from __future__ import annotations

from django_qstash.devserver.api.base import ApiContext, Request, Response, Route, route


def get_keys(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    current, next_key = ctx.keys.pair()
    return Response(200, {"current": current, "next": next_key})


def rotate_keys(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    current, next_key = ctx.keys.rotate()
    return Response(200, {"current": current, "next": next_key})


ROUTES: list[Route] = [
    route("GET", r"^/v2/keys/?$", get_keys),
    route("POST", r"^/v2/keys/rotate/?$", rotate_keys),
]
