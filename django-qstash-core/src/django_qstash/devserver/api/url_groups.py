"""URL groups (``/v2/topics``): upsert and remove endpoints, list, get and delete."""

from __future__ import annotations

from typing import Any

from django_qstash.devserver.api.base import NAME, ApiContext, Request, Response, Route, route
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.options import check_name, parse_destination
from django_qstash.devserver.store import Topic


def _topic_to_api(topic: Topic) -> dict[str, Any]:
    return {
        "name": topic.name,
        "createdAt": topic.created_ms,
        "updatedAt": topic.updated_ms,
        "endpoints": topic.endpoints,
    }


def _endpoints(request: Request) -> list[dict[str, Any]]:
    body = request.json()
    endpoints = body.get("endpoints") if isinstance(body, dict) else None
    if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
        raise InvalidValue('send {"endpoints": [{"url": ..., "name": ...}, ...]}')
    return endpoints


def add_endpoints(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    name = check_name("url group name", match["name"])
    now = now_ms()
    with ctx.store.transaction():
        topic = ctx.store.get_topic(name) or Topic(name, now, now, [])
        for endpoint in _endpoints(request):
            url = parse_destination(str(endpoint.get("url") or "")).url
            if url is None:
                raise InvalidValue(f"endpoint url must be an http(s) URL: {endpoint!r}")
            entry = {"url": url}
            if endpoint.get("name"):
                entry["name"] = check_name("endpoint name", str(endpoint["name"]))
            topic.endpoints = [
                e
                for e in topic.endpoints
                if e["url"] != url and (not entry.get("name") or e.get("name") != entry["name"])
            ]
            topic.endpoints.append(entry)
        topic.updated_ms = now
        ctx.store.save_topic(topic)
    return Response(200, {})


def remove_endpoints(ctx: ApiContext, request: Request, match: dict[str, str]) -> Response:
    with ctx.store.transaction():
        topic = ctx.store.get_topic(match["name"])
        if topic is None:
            raise NotFound(f"url group {match['name']!r} not found")
        for endpoint in _endpoints(request):
            url, name = endpoint.get("url"), endpoint.get("name")
            if not url and not name:
                raise InvalidValue("each endpoint to remove needs a url or a name")
            topic.endpoints = [
                e
                for e in topic.endpoints
                if not ((url and e["url"] == url) or (name and e.get("name") == name))
            ]
        if topic.endpoints:
            topic.updated_ms = now_ms()
            ctx.store.save_topic(topic)
        else:
            ctx.store.delete_topic(topic.name)
    return Response(200, {})


def list_topics(ctx: ApiContext, _request: Request, _match: dict[str, str]) -> Response:
    return Response(200, [_topic_to_api(t) for t in ctx.store.list_topics()])


def get_topic(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    topic = ctx.store.get_topic(match["name"])
    if topic is None:
        raise NotFound(f"url group {match['name']!r} not found")
    return Response(200, _topic_to_api(topic))


def delete_topic(ctx: ApiContext, _request: Request, match: dict[str, str]) -> Response:
    # QStash answers 200 for a group it does not know, so set-up code can delete before it
    # creates (the official SDKs' tests delete the same group twice in a row).
    ctx.store.delete_topic(match["name"])
    return Response(200, {})


ROUTES: list[Route] = [
    route("POST", rf"^/v2/topics/{NAME}/endpoints/?$", add_endpoints),
    route("DELETE", rf"^/v2/topics/{NAME}/endpoints/?$", remove_endpoints),
    route("GET", r"^/v2/topics/?$", list_topics),
    route("GET", rf"^/v2/topics/{NAME}$", get_topic),
    route("DELETE", rf"^/v2/topics/{NAME}$", delete_topic),
]
