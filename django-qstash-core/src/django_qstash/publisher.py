"""Publishing: one lazily created ``qstash.QStash`` client per process, reused for every call."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_qstash.conf import conf
from django_qstash.exceptions import PublishError
from django_qstash.messages import CONTENT_TYPE
from django_qstash.sdk_errors import translate_sdk_error

if TYPE_CHECKING:
    from qstash import AsyncQStash, QStash
    from qstash.message import FlowControl

    from django_qstash.messages import PreparedMessage

_lock = threading.Lock()
_client: QStash | None = None
_client_key: tuple[Any, ...] | None = None
#: ``conf.generation`` when the client's settings were last compared: until the settings cache
#: is cleared (``setting_changed``), the client is reused without reading them again.
_checked_generation = -1


def get_client() -> QStash:
    """The shared client. It is rebuilt only when the token, URL or retry setting changes."""
    global _client, _client_key, _checked_generation
    client = _client
    if client is not None and conf.generation == _checked_generation:
        return client
    from django_qstash import sdk

    with _lock:
        generation = conf.generation
        key = sdk.settings_key()
        if _client is None or key != _client_key:
            _close(_client)
            _client = sdk.client_from_settings("sync", key)
            _client_key = key
        _checked_generation = generation
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


@dataclass
class SdkCall:
    """One publish as the SDK makes it, for the sync and the async client alike."""

    #: ``publish`` / ``enqueue`` (the SDK's message API), or ``request`` (its raw HTTP API).
    kind: str
    arguments: dict[str, Any]

    def run(self, client: QStash) -> str:
        if self.kind == "request":
            return _enqueue_answer(client.http.request(**self.arguments))
        method = getattr(client.message, self.kind)
        return str(method(**self.arguments).message_id)

    async def arun(self, client: AsyncQStash) -> str:
        if self.kind == "request":
            return _enqueue_answer(await client.http.request(**self.arguments))
        method = getattr(client.message, self.kind)
        return str((await method(**self.arguments)).message_id)


def sdk_call(
    body: bytes,
    *,
    url: str | None = None,
    content_type: str = CONTENT_TYPE,
    method: str | None = None,
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
) -> SdkCall:
    """How to publish ``body`` with these options (to the webhook unless ``url`` is given)."""
    common: dict[str, Any] = {
        "url": url or conf.webhook_url,
        "body": body,
        "content_type": content_type,
        "method": method,
        "headers": dict(headers) if headers else None,
        "retries": max_retries,
        "retry_delay": retry_delay,
        "timeout": timeout,
        "deduplication_id": _retry_safe(deduplication_id, content_based_deduplication),
        "content_based_deduplication": content_based_deduplication,
        "callback": callback,
        "failure_callback": failure_callback,
        "label": label,
    }
    if callback_headers:
        common["callback_headers"] = dict(callback_headers)
    if failure_callback_headers:
        common["failure_callback_headers"] = dict(failure_callback_headers)
    if queue is None:
        common.update(delay=delay, not_before=not_before, flow_control=flow_control)
        return SdkCall("publish", common)
    if delay is None and not_before is None and flow_control is None:
        return SdkCall("enqueue", {"queue": queue, **common})
    return _enqueue_with_delay(queue, delay, not_before, flow_control, common)


def publish(body: bytes, **options: Any) -> str:
    """Publish one body (by default JSON, to the webhook) and return its QStash message id.

    ``options`` are :func:`sdk_call`'s. Raises :class:`PublishError` (with the cause and
    QStash's answer) when nothing was enqueued.
    """
    client = get_client()
    call = sdk_call(body, **options)
    try:
        return call.run(client)
    except Exception as exc:
        raise publish_error(exc, client.http._base_url) from exc


def send(prepared: PreparedMessage) -> str:
    """Publish a prepared message with the shared client; returns its QStash message id."""
    client = get_client()
    try:
        if prepared.options.get("queue") is None:
            # The common case, kept short: it runs on every ``.delay()``.
            # A URL destination answers one message (a URL group would answer a list).
            answer: Any = client.message.publish(**publish_arguments(prepared))
            return str(answer.message_id)
        return sdk_call(prepared.body, **prepared.publish_arguments()).run(client)
    except Exception as exc:
        raise publish_error(exc, client.http._base_url) from exc


def prepared_call(prepared: PreparedMessage) -> SdkCall:
    """How to publish a prepared message (for the async client; :func:`send` is its sync twin)."""
    if prepared.options.get("queue") is not None:
        return sdk_call(prepared.body, **prepared.publish_arguments())
    return SdkCall("publish", publish_arguments(prepared))


def publish_arguments(prepared: PreparedMessage) -> dict[str, Any]:
    """The SDK's ``message.publish`` arguments of a message sent to no queue: its options as
    they are, and a deduplication id that makes a retried publish safe (:func:`_retry_safe`)."""
    arguments = prepared.sdk_arguments()
    deduplication_id = _retry_safe(
        arguments.get("deduplication_id"), arguments.get("content_based_deduplication")
    )
    if deduplication_id:
        arguments["deduplication_id"] = deduplication_id
    return arguments


def send_batch(messages: Sequence[PreparedMessage]) -> list[str]:
    """Publish prepared messages in one request; returns their message ids, in order."""
    return publish_batch([(p.body, p.publish_arguments()) for p in messages])


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
    queue: str,
    delay: int | str | None,
    not_before: int | None,
    flow_control: FlowControl | None,
    common: dict[str, Any],
) -> SdkCall:
    # The Python SDK's enqueue() drops delay/not-before/flow control, although the API (and the
    # JS SDK) support them, so build the same request through the SDK's own helpers.
    from qstash.message import prepare_headers

    fields = {k: v for k, v in common.items() if k not in ("url", "body")}
    fields.setdefault("callback_headers", None)
    fields.setdefault("failure_callback_headers", None)
    request_headers = prepare_headers(
        delay=delay,
        not_before=not_before,
        flow_control=flow_control,
        redact=None,
        **fields,
    )
    return SdkCall(
        "request",
        {
            "path": f"/v2/enqueue/{queue}/{common['url']}",
            "method": "POST",
            "headers": request_headers,
            "body": common["body"],
        },
    )


def _enqueue_answer(response: Any) -> str:
    from qstash.message import parse_enqueue_response

    answer: Any = parse_enqueue_response(response)  # a URL destination: one message
    return str(answer.message_id)


#: ``publish()`` keyword -> the SDK's batch item key (the rest keep their names).
_BATCH_KEYS = {"max_retries": "retries"}


def batch_items(messages: Sequence[tuple[bytes, Mapping[str, Any]]]) -> list[Any]:
    """The SDK's ``message.batch`` items for ``(body, options)`` pairs (:func:`sdk_call`'s
    options; bodies must be UTF-8 text, as the batch API carries them in JSON)."""
    webhook = conf.webhook_url
    items: list[Any] = []
    for body, options in messages:
        item: dict[str, Any] = {
            "url": options.get("url") or webhook,
            "body": body.decode(),
            "content_type": CONTENT_TYPE,
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
    return items


def batch_ids(responses: Sequence[Any]) -> list[str]:
    """The message ids of a batch's answer, in order."""
    # A URL destination answers one object per item (URL groups would answer lists).
    return [
        str(response[0].message_id if isinstance(response, list) else response.message_id)
        for response in responses
    ]


def publish_batch(messages: Sequence[tuple[bytes, Mapping[str, Any]]]) -> list[str]:
    """Publish many bodies in one request (``POST /v2/batch``); returns their message ids.

    Each item is ``(body, options)`` with the keyword arguments of :func:`publish`. Raises
    :class:`PublishError` when QStash refused the batch (then nothing was enqueued).
    """
    client = get_client()
    items = batch_items(messages)
    try:
        responses = client.message.batch(items)
    except Exception as exc:
        raise publish_error(exc, client.http._base_url) from exc
    return batch_ids(responses)


def publish_error(exc: Exception, base_url: str) -> PublishError:
    """The :class:`PublishError` for what the SDK raised while publishing to ``base_url``."""
    failure = translate_sdk_error(exc)
    if failure.kind == "daily_limit":
        return PublishError(
            "QStash refused the message: the daily message quota is used up "
            f"(limit {failure.limit}, resets {failure.reset}). Nothing was enqueued; upgrade "
            "the plan or try again after the reset.",
            cause=exc,
            status=429,
        )
    if failure.kind == "rate_limited":
        return PublishError(
            "QStash rate-limited the publish (HTTP 429). Nothing was enqueued; retry after "
            f"{failure.reset or 'a short while'}.",
            cause=exc,
            status=429,
        )
    if failure.kind == "refused":
        status, body = failure.status, failure.body
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
        f"Could not reach QStash at {base_url} ({type(exc).__name__}: {exc}). "
        "Nothing was enqueued; check QSTASH_URL and the network, or start the dev server "
        "(python -m django_qstash.devserver).",
        cause=exc,
    )
