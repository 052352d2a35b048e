"""Publishing: one lazily created ``qstash.QStash`` client per process, reused for every call."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_qstash.conf import conf
from django_qstash.exceptions import PublishError

if TYPE_CHECKING:
    from qstash import QStash
    from qstash.message import FlowControl

_lock = threading.Lock()
_client: QStash | None = None
_client_key: tuple[Any, ...] | None = None


def get_client() -> QStash:
    """The shared client. It is rebuilt only when the token, URL or retry setting changes."""
    global _client, _client_key
    from django_qstash import sdk

    key = sdk.settings_key()
    client = _client
    if client is not None and key == _client_key:
        return client
    with _lock:
        if _client is None or key != _client_key:
            _close(_client)
            _client = sdk.client_from_settings("sync", key)
            _client_key = key
        return _client


def reset_client(**_: Any) -> None:
    """Forget the client (connected to ``setting_changed`` so tests can switch settings)."""
    global _client, _client_key
    with _lock:
        _close(_client)
        _client = None
        _client_key = None


def _close(client: QStash | None) -> None:
    # Settings changed (tests, mostly): release the old client's pooled connections.
    if client is not None:
        with contextlib.suppress(Exception):  # best effort
            client.http._client.close()


def publish(
    body: bytes,
    *,
    url: str | None = None,
    delay: int | str | None = None,
    not_before: int | None = None,
    max_retries: int | None = None,
    retry_delay: str | None = None,
    timeout: int | str | None = None,
    deduplication_id: str | None = None,
    content_based_deduplication: bool | None = None,
    callback: str | None = None,
    failure_callback: str | None = None,
    callback_headers: Mapping[str, str] | None = None,
    failure_callback_headers: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    queue: str | None = None,
    label: str | None = None,
    flow_control: FlowControl | None = None,
) -> str:
    """Publish one JSON body to the webhook and return its QStash message id.

    Raises :class:`PublishError` (with the cause and QStash's answer) when nothing was enqueued.
    """
    client = get_client()
    destination = url or conf.webhook_url
    deduplication_id = _retry_safe(deduplication_id, content_based_deduplication)
    common: dict[str, Any] = {
        "url": destination,
        "body": body,
        "content_type": "application/json",
        "headers": dict(headers) if headers else None,
        "retries": max_retries,
        "retry_delay": retry_delay,
        "timeout": timeout,
        "deduplication_id": deduplication_id,
        "content_based_deduplication": content_based_deduplication,
        "callback": callback,
        "failure_callback": failure_callback,
        "label": label,
    }
    if callback_headers:
        common["callback_headers"] = dict(callback_headers)
    if failure_callback_headers:
        common["failure_callback_headers"] = dict(failure_callback_headers)
    try:
        response: Any
        if queue is None:
            response = client.message.publish(
                delay=delay, not_before=not_before, flow_control=flow_control, **common
            )
        elif delay is None and not_before is None and flow_control is None:
            response = client.message.enqueue(queue=queue, **common)
        else:
            response = _enqueue_with_delay(client, queue, delay, not_before, flow_control, common)
    except Exception as exc:
        raise _publish_error(exc, client) from exc
    return str(response.message_id)


def _retry_safe(deduplication_id: str | None, content_based: bool | None) -> str | None:
    """The deduplication id of one publish.

    The SDK retries a publish after any error (``DJANGO_QSTASH_PUBLISH_RETRIES``), also after
    one where QStash had enqueued the message and only its answer was lost. Without an id of
    its own, each such publish gets a fresh one, so that its retry is deduplicated by QStash
    (which answers with the first message's id) instead of enqueuing the task twice.
    """
    if deduplication_id or content_based or conf.PUBLISH_RETRIES <= 0:
        return deduplication_id
    return f"dq-{os.urandom(16).hex()}"  # as random as a uuid4, without building one


def _enqueue_with_delay(
    client: QStash,
    queue: str,
    delay: int | str | None,
    not_before: int | None,
    flow_control: FlowControl | None,
    common: dict[str, Any],
) -> Any:
    # The Python SDK's enqueue() drops delay/not-before/flow control, although the API (and the
    # JS SDK) support them, so build the same request through the SDK's own helpers.
    from qstash.message import parse_enqueue_response, prepare_headers

    fields = {k: v for k, v in common.items() if k not in ("url", "body")}
    fields.setdefault("callback_headers", None)
    fields.setdefault("failure_callback_headers", None)
    request_headers = prepare_headers(
        method=None,
        delay=delay,
        not_before=not_before,
        flow_control=flow_control,
        redact=None,
        **fields,
    )
    response = client.http.request(
        path=f"/v2/enqueue/{queue}/{common['url']}",
        method="POST",
        headers=request_headers,
        body=common["body"],
    )
    return parse_enqueue_response(response)


#: ``publish()`` keyword -> the SDK's batch item key (the rest keep their names).
_BATCH_KEYS = {"max_retries": "retries"}


def publish_batch(messages: Sequence[tuple[bytes, Mapping[str, Any]]]) -> list[str]:
    """Publish many bodies in one request (``POST /v2/batch``); returns their message ids.

    Each item is ``(body, options)`` with the keyword arguments of :func:`publish`. Raises
    :class:`PublishError` when QStash refused the batch (then nothing was enqueued).
    """
    client = get_client()
    webhook = conf.webhook_url
    items: list[Any] = []
    for body, options in messages:
        item: dict[str, Any] = {
            "url": options.get("url") or webhook,
            "body": body.decode(),
            "content_type": "application/json",
        }
        for key, value in options.items():
            if value is not None and key != "url":
                item[_BATCH_KEYS.get(key, key)] = dict(value) if key.endswith("headers") else value
        deduplication_id = _retry_safe(
            item.get("deduplication_id"), item.get("content_based_deduplication")
        )
        if deduplication_id:
            item["deduplication_id"] = deduplication_id
        items.append(item)
    try:
        responses = client.message.batch(items)
    except Exception as exc:
        raise _publish_error(exc, client) from exc
    # A URL destination answers one object per item (URL groups would answer lists).
    return [
        str(response[0].message_id if isinstance(response, list) else response.message_id)
        for response in responses
    ]


def _publish_error(exc: Exception, client: QStash) -> PublishError:
    from qstash.errors import DailyMessageLimitExceededError, QStashError, RateLimitExceededError

    base_url = client.http._base_url
    if isinstance(exc, DailyMessageLimitExceededError):
        return PublishError(
            "QStash refused the message: the daily message quota is used up "
            f"(limit {exc.limit}, resets {exc.reset}). Nothing was enqueued; upgrade the plan "
            "or try again after the reset.",
            cause=exc,
            status=429,
        )
    if isinstance(exc, RateLimitExceededError):
        return PublishError(
            "QStash rate-limited the publish (HTTP 429). Nothing was enqueued; retry after "
            f"{exc.reset or 'a short while'}.",
            cause=exc,
            status=429,
        )
    if isinstance(exc, QStashError):
        status, body = _parse_sdk_error(str(exc))
        hint = {
            401: "check QSTASH_TOKEN",
            403: "check QSTASH_TOKEN and the plan's permissions",
            400: "check the task options and DJANGO_QSTASH_DOMAIN",
        }.get(status or 0, "see QStash's answer")
        return PublishError(
            f"QStash refused the message (HTTP {status}): {body}. Nothing was enqueued; {hint}.",
            cause=exc,
            status=status,
            body=body,
        )
    return PublishError(
        f"Could not reach QStash at {base_url} ({type(exc).__name__}: {exc}). Nothing was "
        "enqueued; check QSTASH_URL and the network, or start the dev server "
        "(python -m django_qstash.devserver).",
        cause=exc,
    )


def _parse_sdk_error(message: str) -> tuple[int | None, str]:
    # The SDK raises QStashError("Request failed with status: N, body: ...").
    prefix = "Request failed with status: "
    if message.startswith(prefix):
        status_text, _, body = message[len(prefix) :].partition(", body: ")
        try:
            return int(status_text), body
        except ValueError:
            pass
    return None, message
