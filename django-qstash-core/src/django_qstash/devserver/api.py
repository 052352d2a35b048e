"""The QStash REST API (``/v2/...``): routing, authentication and one handler per endpoint.

Transport-free: :class:`Request` in, :class:`Response` out; ``httpserver`` does the HTTP.
Errors have QStash's shape, ``{"error": "..."}``, with its status codes.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.durations import InvalidValue, parse_duration
from django_qstash.devserver.engine import NotFound
from django_qstash.devserver.message import Message
from django_qstash.devserver.options import (
    Headers,
    check_name,
    parse_destination,
    parse_message,
)
from django_qstash.devserver.schedules import schedule_to_api
from django_qstash.devserver.store import DlqEntry, Queue, Topic
from django_qstash.devserver.workflow_api import WorkflowApi
from django_qstash.devserver.workflows import RunNotFound

if TYPE_CHECKING:
    from django_qstash.devserver.server import DevServer

MAX_DLQ_PAGE = 100
DEFAULT_EVENTS_PAGE = 1000


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


Handler = Callable[[Request, dict[str, str]], Response]


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
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


def _ids(request: Request, key: str) -> list[str] | None:
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


def _strip_token(query: str) -> str:
    # ``qstash_token`` authenticates the API call; it is not part of the destination.
    return "&".join(p for p in query.split("&") if p and not p.startswith("qstash_token="))


def _queue_to_api(queue: Queue, lag: int) -> dict[str, Any]:
    return {
        "name": queue.name,
        "parallelism": queue.parallelism,
        "createdAt": queue.created_ms,
        "updatedAt": queue.updated_ms,
        "lag": lag,
        "paused": queue.paused,
    }


def _topic_to_api(topic: Topic) -> dict[str, Any]:
    return {
        "name": topic.name,
        "createdAt": topic.created_ms,
        "updatedAt": topic.updated_ms,
        "endpoints": topic.endpoints,
    }


def _dlq_to_api(entry: DlqEntry) -> dict[str, Any]:
    data = entry.message.to_api(entry.body)
    data["dlqId"] = entry.dlq_id
    data["responseStatus"] = entry.response_status
    if entry.response_headers:
        data["responseHeader"] = entry.response_headers
    try:
        data["responseBody"] = entry.response_body.decode("utf-8")
    except UnicodeDecodeError:
        data["responseBodyBase64"] = base64.b64encode(entry.response_body).decode()
    if entry.error:
        data["error"] = entry.error
    return data


def _matches(message: Message, request: Request) -> bool:
    """The filters of ``DELETE /v2/messages`` (openapi: query parameters)."""
    checks: dict[str, Any] = {
        "topicName": message.topic_name,
        "queueName": message.queue_name,
        "url": message.url,
        "label": message.label,
        "flowControlKey": message.flow_key,
        "scheduleId": message.schedule_id,
        "callerIp": message.caller_ip,
    }
    for name, value in checks.items():
        wanted = request.param(name)
        if wanted and wanted != value and not (name == "label" and wanted in message.labels):
            return False
    from_date, to_date = request.param("fromDate"), request.param("toDate")
    if from_date and message.created_ms < int(from_date):
        return False
    return not (to_date and message.created_ms > int(to_date))


class Api:
    def __init__(self, server: DevServer) -> None:
        self.server = server
        self.store = server.store
        self.engine = server.engine
        name = r"(?P<name>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"^/v2/publish/(?P<dest>.+)$"), self.publish),
            ("POST", re.compile(r"^/v2/enqueue/(?P<queue>[^/]+)/(?P<dest>.+)$"), self.enqueue),
            ("POST", re.compile(r"^/v2/batch/?$"), self.batch),
            ("GET", re.compile(r"^/v2/messages/(?P<id>[^/]+)$"), self.get_message),
            ("DELETE", re.compile(r"^/v2/messages/(?P<id>[^/]+)$"), self.cancel_message),
            ("DELETE", re.compile(r"^/v2/messages/?$"), self.cancel_messages),
            ("GET", re.compile(r"^/v2/dlq/?$"), self.list_dlq),
            ("POST", re.compile(r"^/v2/dlq/retry/(?P<id>[^/]+)$"), self.retry_dlq),
            ("POST", re.compile(r"^/v2/dlq/retry/?$"), self.retry_dlq_many),
            ("GET", re.compile(r"^/v2/dlq/(?P<id>[^/]+)$"), self.get_dlq),
            ("DELETE", re.compile(r"^/v2/dlq/(?P<id>[^/]+)$"), self.delete_dlq),
            ("DELETE", re.compile(r"^/v2/dlq/?$"), self.delete_dlq_many),
            ("GET", re.compile(r"^/v2/(?P<kind>events|logs)/?$"), self.list_events),
            ("GET", re.compile(r"^/v2/keys/?$"), self.get_keys),
            ("POST", re.compile(r"^/v2/keys/rotate/?$"), self.rotate_keys),
            ("POST", re.compile(r"^/v2/queues/?$"), self.upsert_queue),
            ("GET", re.compile(r"^/v2/queues/?$"), self.list_queues),
            ("GET", re.compile(rf"^/v2/queues/{name}$"), self.get_queue),
            ("DELETE", re.compile(rf"^/v2/queues/{name}$"), self.delete_queue),
            (
                "POST",
                re.compile(rf"^/v2/queues/{name}/(?P<action>pause|resume)$"),
                self.pause_queue,
            ),
            ("GET", re.compile(r"^/v2/schedules/?$"), self.list_schedules),
            ("GET", re.compile(r"^/v2/schedules/(?P<id>[^/]+)$"), self.get_schedule),
            ("DELETE", re.compile(r"^/v2/schedules/(?P<id>[^/]+)$"), self.delete_schedule),
            # The SDKs pause with PATCH, openapi documents POST: accept both (§10).
            *(
                (
                    method,
                    re.compile(r"^/v2/schedules/(?P<id>[A-Za-z0-9._-]+)/(?P<action>pause|resume)$"),
                    self.pause_schedule,
                )
                for method in ("PATCH", "POST")
            ),
            ("POST", re.compile(r"^/v2/schedules/(?P<dest>.+)$"), self.create_schedule),
            ("POST", re.compile(rf"^/v2/topics/{name}/endpoints/?$"), self.add_endpoints),
            ("DELETE", re.compile(rf"^/v2/topics/{name}/endpoints/?$"), self.remove_endpoints),
            ("GET", re.compile(r"^/v2/topics/?$"), self.list_topics),
            ("GET", re.compile(rf"^/v2/topics/{name}$"), self.get_topic),
            ("DELETE", re.compile(rf"^/v2/topics/{name}$"), self.delete_topic),
            ("GET", re.compile(r"^/v2/flowControl/?$"), self.list_flow_control),
            ("GET", re.compile(r"^/v2/flowControl/(?P<key>[^/]+)$"), self.get_flow_control),
            (
                "POST",
                re.compile(
                    r"^/v2/flowControl/(?P<key>[^/]+)/(?P<action>pause|resume|resetRate|pin|unpin)$"
                ),
                self.change_flow_control,
            ),
            ("GET", re.compile(r"^/v2/globalParallelism/?$"), self.global_parallelism),
            *WorkflowApi(server).routes(),
        ]

    # ---------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        try:
            if request.path in ("/", "") and request.method in ("GET", "HEAD"):
                return Response(200, {"status": "QStash dev server (django-qstash) is running"})
            self._authenticate(request)
            allowed: set[str] = set()
            for method, pattern, handler in self.routes:
                match = pattern.match(request.path)
                if match is None:
                    continue
                if method != request.method:
                    allowed.add(method)
                    continue
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                for key in ("id", "name", "queue", "key"):
                    if key in groups:
                        groups[key] = urllib.parse.unquote(groups[key])
                return handler(request, groups)
            if allowed:
                return Response(
                    405,
                    {"error": f"method {request.method} not allowed on {request.path}"},
                    {"Allow": ", ".join(sorted(allowed))},
                )
            return Response(404, {"error": f"not found: {request.method} {request.path}"})
        except ApiError as exc:
            return Response(exc.status, {"error": str(exc)})
        except InvalidValue as exc:
            return Response(400, {"error": str(exc)})
        except (NotFound, RunNotFound) as exc:
            return Response(404, {"error": str(exc)})
        except ValueError as exc:  # e.g. a non-numeric filter
            return Response(400, {"error": f"invalid request: {exc}"})

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            token = request.param("qstash_token") or ""
        token = token.strip()
        if not token:
            raise ApiError(401, "missing token: send 'Authorization: Bearer <QSTASH_TOKEN>'")
        if not hmac.compare_digest(token.encode(), self.server.token.encode()):
            raise ApiError(401, "invalid token: use the QSTASH_TOKEN this dev server printed")

    def _destination(self, request: Request, raw: str) -> str:
        query = _strip_token(request.query)
        return raw + ("?" + query if query else "")

    # ---------------------------------------------------------------- publishing

    def _publish(
        self,
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
        body = self.server.workflows.prepare(template, headers, body, now)
        if queue is not None:
            template.queue_name = check_name("queue name", queue)
        results = self.engine.publish(template, body, destination, now)
        deduplicated = all(r.get("deduplicated") for r in results)
        status = 202 if deduplicated else 200
        return status, (results[0] if destination.url is not None else results)

    def publish(self, request: Request, match: dict[str, str]) -> Response:
        status, payload = self._publish(
            request, self._destination(request, match["dest"]), None, request.headers, request.body
        )
        return Response(status, payload)

    def enqueue(self, request: Request, match: dict[str, str]) -> Response:
        status, payload = self._publish(
            request,
            self._destination(request, match["dest"]),
            match["queue"],
            request.headers,
            request.body,
        )
        return Response(status, payload)

    def batch(self, request: Request, _match: dict[str, str]) -> Response:
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
                raise InvalidValue(
                    f"batch message {index}: headers must be an object, body a string"
                )
            if queue is not None and not isinstance(queue, str):
                raise InvalidValue(f"batch message {index}: queue must be a string")
            # JS sends lower-case header names; Headers looks them up case-insensitively.
            parse_destination(item["destination"])
            parse_message(Headers.from_mapping(headers), now_ms=now_ms())
            prepared.append(
                (item["destination"], queue, Headers.from_mapping(headers), (body or "").encode())
            )
        # One transaction for the whole batch: all or nothing, and one commit instead of many.
        with self.store.transaction():
            responses = [
                self._publish(request, destination, queue, headers, body)[1]
                for destination, queue, headers, body in prepared
            ]
        return Response(200, responses)

    # ---------------------------------------------------------------- messages

    def get_message(self, _request: Request, match: dict[str, str]) -> Response:
        stored = self.store.get_message(match["id"])
        if stored is None:
            raise NotFound(f"message {match['id']!r} not found")
        return Response(200, stored.message.to_api(stored.body))

    def cancel_message(self, _request: Request, match: dict[str, str]) -> Response:
        if not self.engine.cancel(match["id"]):
            raise NotFound(f"message {match['id']!r} not found")
        # JS messages.cancel() parses the body as JSON (§3.4).
        return Response(200, {"cancelled": 1})

    def cancel_messages(self, request: Request, _match: dict[str, str]) -> Response:
        ids = _ids(request, "messageIds")
        if ids is not None:
            return Response(200, {"cancelled": sum(self.engine.cancel(i) for i in ids)})
        count = _int_param(request, "count", 0) or None
        matching = [
            s.message.id for s in self.store.list_messages({}) if _matches(s.message, request)
        ]
        cancelled = sum(self.engine.cancel(i) for i in matching[:count])
        return Response(200, {"cancelled": cancelled})

    # ---------------------------------------------------------------- DLQ

    def _dlq_filters(self, request: Request) -> dict[str, Any]:
        status = request.param("responseStatus")
        return {
            "message_id": request.param("messageId") or None,
            "url": request.param("url") or None,
            "topic_name": request.param("topicName") or None,
            "queue_name": request.param("queueName") or None,
            "schedule_id": request.param("scheduleId") or None,
            "time_ms >=": int(request.param("fromDate") or 0) or None,
            "time_ms <=": int(request.param("toDate") or 0) or None,
            "response_status": int(status) if status else None,
            "caller_ip": request.param("callerIp") or None,
            "label": request.param("label") or None,
        }

    def list_dlq(self, request: Request, _match: dict[str, str]) -> Response:
        count = _int_param(request, "count", MAX_DLQ_PAGE, MAX_DLQ_PAGE)
        filters = self._dlq_filters(request)
        cursor = request.param("cursor")
        if cursor:
            filters["seq <"] = int(cursor) if cursor.isdigit() else 0
        rows = self.store.list_dlq(filters, count + 1)
        payload: dict[str, Any] = {"messages": [_dlq_to_api(e) for _, e in rows[:count]]}
        if len(rows) > count:
            payload["cursor"] = str(rows[count - 1][0])
        return Response(200, payload)

    def get_dlq(self, _request: Request, match: dict[str, str]) -> Response:
        entry = self.store.get_dlq(match["id"])
        if entry is None:
            raise NotFound(f"dlq message {match['id']!r} not found")
        return Response(200, _dlq_to_api(entry))

    def delete_dlq(self, _request: Request, match: dict[str, str]) -> Response:
        if not self.store.delete_dlq([match["id"]]):
            raise NotFound(f"dlq message {match['id']!r} not found")
        return Response(200, {"deleted": 1})

    def delete_dlq_many(self, request: Request, _match: dict[str, str]) -> Response:
        ids = _ids(request, "dlqIds")
        if ids is None:
            ids = [e.dlq_id for _, e in self.store.list_dlq(self._dlq_filters(request), None)]
        return Response(200, {"deleted": self.store.delete_dlq(ids)})

    def retry_dlq(self, _request: Request, match: dict[str, str]) -> Response:
        return Response(201, {"messageId": self.engine.retry_dlq(match["id"])})

    def retry_dlq_many(self, request: Request, _match: dict[str, str]) -> Response:
        ids = _ids(request, "dlqIds")
        if ids is None:
            ids = [e.dlq_id for _, e in self.store.list_dlq(self._dlq_filters(request), None)]
        responses = [{"messageId": self.engine.retry_dlq(i)} for i in ids]
        return Response(201, {"cursor": "", "responses": responses})

    # ---------------------------------------------------------------- logs

    def list_events(self, request: Request, match: dict[str, str]) -> Response:
        count = _int_param(request, "count", DEFAULT_EVENTS_PAGE, 10_000)
        message_ids = [
            v for value in request.params.get("messageIds", []) for v in value.split(",")
        ]
        filters: dict[str, Any] = {
            "message_id": request.param("messageId") or None,
            "message_id in": message_ids or None,
            "state": request.param("state") or None,
            "url": request.param("url") or None,
            "topic_name": request.param("topicName") or None,
            "queue_name": request.param("queueName") or None,
            "schedule_id": request.param("scheduleId") or None,
            "label": request.param("label") or None,
            "time_ms >=": int(request.param("fromDate") or 0) or None,
            "time_ms <=": int(request.param("toDate") or 0) or None,
        }
        cursor = request.param("cursor")
        if cursor:
            filters["id <"] = int(cursor) if cursor.isdigit() else 0
        rows = self.store.list_events(filters, count + 1)
        events = [data for _, data in rows[:count]]
        payload: dict[str, Any] = {"events": events}
        if match["kind"] == "logs":
            payload["logs"] = events
        if len(rows) > count:
            payload["cursor"] = str(rows[count - 1][0])
        return Response(200, payload)

    # ---------------------------------------------------------------- signing keys

    def get_keys(self, _request: Request, _match: dict[str, str]) -> Response:
        current, next_key = self.server.keys.pair()
        return Response(200, {"current": current, "next": next_key})

    def rotate_keys(self, _request: Request, _match: dict[str, str]) -> Response:
        current, next_key = self.server.keys.rotate()
        return Response(200, {"current": current, "next": next_key})

    # ---------------------------------------------------------------- queues

    def _lag(self) -> dict[str, int]:
        return {name: waiting for name, (_, waiting) in self.store.queue_activity().items()}

    def upsert_queue(self, request: Request, _match: dict[str, str]) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise InvalidValue("send a JSON object: {queueName, parallelism, paused}")
        name = check_name("queue name", str(body.get("queueName") or ""))
        parallelism = body.get("parallelism", 1)
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise InvalidValue("parallelism must be a positive integer")
        paused = bool(body.get("paused", False))
        self.store.upsert_queue(name, now_ms=now_ms(), parallelism=parallelism, paused=paused)
        self.engine.wake()
        return Response(200, {})

    def list_queues(self, _request: Request, _match: dict[str, str]) -> Response:
        lag = self._lag()
        return Response(
            200, [_queue_to_api(q, lag.get(q.name, 0)) for q in self.store.list_queues()]
        )

    def _queue(self, name: str) -> Queue:
        queue = self.store.get_queue(name)
        if queue is None:
            raise NotFound(f"queue {name!r} not found")
        return queue

    def get_queue(self, _request: Request, match: dict[str, str]) -> Response:
        queue = self._queue(match["name"])
        return Response(200, _queue_to_api(queue, self._lag().get(queue.name, 0)))

    def delete_queue(self, _request: Request, match: dict[str, str]) -> Response:
        self._queue(match["name"])
        for stored in self.store.list_messages({"queue_name": match["name"]}):
            self.engine.cancel(stored.message.id)
        self.store.delete_queue(match["name"])
        return Response(200, {})

    def pause_queue(self, _request: Request, match: dict[str, str]) -> Response:
        self._queue(match["name"])
        self.store.upsert_queue(match["name"], now_ms=now_ms(), paused=match["action"] == "pause")
        self.engine.wake()
        return Response(200, {})

    # ---------------------------------------------------------------- schedules

    def create_schedule(self, request: Request, match: dict[str, str]) -> Response:
        cron = request.headers.get("upstash-cron")
        if not cron or not cron.strip():
            raise InvalidValue("the Upstash-Cron header is required")
        template = parse_message(request.headers, now_ms=now_ms(), for_schedule=True)
        schedule_id = request.headers.get("upstash-schedule-id")
        schedule = self.server.scheduler.upsert(
            destination=self._destination(request, match["dest"]),
            cron=cron,
            template=template,
            body=request.body,
            schedule_id=schedule_id.strip() if schedule_id else None,
            caller_ip=request.client_ip,
        )
        return Response(200, {"scheduleId": schedule.id})

    def list_schedules(self, _request: Request, _match: dict[str, str]) -> Response:
        return Response(200, [schedule_to_api(s) for s in self.store.list_schedules()])

    def get_schedule(self, _request: Request, match: dict[str, str]) -> Response:
        return Response(200, schedule_to_api(self.server.scheduler.get(match["id"])))

    def delete_schedule(self, _request: Request, match: dict[str, str]) -> Response:
        self.server.scheduler.delete(match["id"])
        return Response(200, {})

    def pause_schedule(self, _request: Request, match: dict[str, str]) -> Response:
        self.server.scheduler.set_paused(match["id"], match["action"] == "pause")
        return Response(200, {})

    # ---------------------------------------------------------------- URL groups

    def _endpoints(self, request: Request) -> list[dict[str, Any]]:
        body = request.json()
        endpoints = body.get("endpoints") if isinstance(body, dict) else None
        if not isinstance(endpoints, list) or not all(isinstance(e, dict) for e in endpoints):
            raise InvalidValue('send {"endpoints": [{"url": ..., "name": ...}, ...]}')
        return endpoints

    def add_endpoints(self, request: Request, match: dict[str, str]) -> Response:
        name = check_name("url group name", match["name"])
        now = now_ms()
        with self.store.transaction():
            topic = self.store.get_topic(name) or Topic(name, now, now, [])
            for endpoint in self._endpoints(request):
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
            self.store.save_topic(topic)
        return Response(200, {})

    def remove_endpoints(self, request: Request, match: dict[str, str]) -> Response:
        with self.store.transaction():
            topic = self.store.get_topic(match["name"])
            if topic is None:
                raise NotFound(f"url group {match['name']!r} not found")
            for endpoint in self._endpoints(request):
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
                self.store.save_topic(topic)
            else:
                self.store.delete_topic(topic.name)
        return Response(200, {})

    def list_topics(self, _request: Request, _match: dict[str, str]) -> Response:
        return Response(200, [_topic_to_api(t) for t in self.store.list_topics()])

    def get_topic(self, _request: Request, match: dict[str, str]) -> Response:
        topic = self.store.get_topic(match["name"])
        if topic is None:
            raise NotFound(f"url group {match['name']!r} not found")
        return Response(200, _topic_to_api(topic))

    def delete_topic(self, _request: Request, match: dict[str, str]) -> Response:
        if not self.store.delete_topic(match["name"]):
            raise NotFound(f"url group {match['name']!r} not found")
        return Response(200, {})

    # ---------------------------------------------------------------- flow control

    def _flow_info(self, key: str) -> dict[str, Any]:
        waiting = len(self.store.list_messages({"flow_key": key, "in_flight": 0}))
        return self.server.flow.info(key, waiting)

    def list_flow_control(self, _request: Request, _match: dict[str, str]) -> Response:
        return Response(200, [self._flow_info(key) for key in self.server.flow.known_keys()])

    def get_flow_control(self, _request: Request, match: dict[str, str]) -> Response:
        return Response(200, self._flow_info(match["key"]))

    def change_flow_control(self, request: Request, match: dict[str, str]) -> Response:
        key, action = match["key"], match["action"]
        flow = self.server.flow
        if action in ("pause", "resume"):
            flow.set_paused(key, action == "pause")
        elif action == "resetRate":
            flow.reset_rate(key)
        elif action == "pin":
            period = request.param("period")
            flow.pin(
                key,
                _int_param(request, "parallelism", 0) or None,
                _int_param(request, "rate", 0) or None,
                parse_duration(period, name="period") if period else None,
            )
        else:
            flow.unpin(
                key,
                (request.param("parallelism") or "").lower() == "true",
                (request.param("rate") or "").lower() == "true",
            )
        self.engine.wake()
        return Response(200, {})

    def global_parallelism(self, _request: Request, _match: dict[str, str]) -> Response:
        return Response(
            200,
            {
                "parallelismMax": self.server.config.max_in_flight,
                "parallelismCount": self.server.dispatcher.in_flight,
            },
        )
