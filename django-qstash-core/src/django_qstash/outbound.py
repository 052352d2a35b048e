"""Publishing to any URL: an external webhook, a CI pipeline, another service, a view of your own.

``publish(url, json=...)`` (``apublish`` in async code) sends one message through QStash with the
settings, client, retries of the publish and error messages of task publishing; the destination
gets QStash's signed request (receive it with ``@verify_qstash``). ``publish_batch`` sends several
in one request. Each returns QStash's message id(s). Every argument is checked before anything
is sent: a mistake raises ``TypeError``/``ValueError`` (or ``ArgumentsNotSerializable``) and
nothing is published.
"""

from __future__ import annotations

import datetime
import json as _json
from collections.abc import Iterable, Mapping
from typing import Any

from django_qstash import pipeline
from django_qstash.durations import delay_seconds, duration, duration_seconds
from django_qstash.exceptions import ArgumentsNotSerializable
from django_qstash.messages import PreparedMessage

__all__ = ["apublish", "apublish_batch", "publish", "publish_batch"]

#: The HTTP methods QStash delivers with.
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_NO_JSON = object()
_FLOW_CONTROL_KEYS = frozenset({"key", "parallelism", "rate", "period"})


def prepare(
    url: str,
    body: str | bytes | None = None,
    *,
    json: Any = _NO_JSON,
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
    delay: int | float | str | datetime.timedelta | None = None,
    countdown: int | float | None = None,
    eta: datetime.datetime | str | None = None,
    retries: int | None = None,
    retry_delay: str | None = None,
    timeout: int | float | str | datetime.timedelta | None = None,
    callback: str | None = None,
    failure_callback: str | None = None,
    flow_control: Mapping[str, Any] | None = None,
    deduplication_id: str | None = None,
    content_based_deduplication: bool | None = None,
    queue: str | None = None,
    label: str | None = None,
) -> PreparedMessage:
    """The message :func:`publish` sends, checked; nothing is sent."""
    payload, default_type = _body(body, json)
    options: dict[str, Any] = {}
    if method.upper() not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, not {method!r}")
    if method.upper() != "POST":
        options["method"] = method.upper()
    seconds = _delay(delay, countdown, eta)
    if seconds:
        options["delay"] = seconds
    if retries is not None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, not {retries!r}")
        options["max_retries"] = retries
    if timeout is not None:
        duration_seconds(timeout)  # raises for what is no duration
        options["timeout"] = duration(timeout)
    for name, value in (("callback", callback), ("failure_callback", failure_callback)):
        if value is not None:
            options[name] = _absolute_url(value, name)
    if flow_control is not None:
        options["flow_control"] = _flow_control(flow_control)
    plain: tuple[tuple[str, Any], ...] = (
        ("retry_delay", retry_delay),
        ("deduplication_id", deduplication_id),
        ("content_based_deduplication", content_based_deduplication),
        ("queue", queue),
        ("label", label),
    )
    for name, value in plain:
        if value is not None:
            options[name] = value
    return PreparedMessage(
        destination=_absolute_url(url, "url"),
        body=payload,
        headers={str(k): str(v) for k, v in (headers or {}).items()},
        options=options,
        content_type=content_type or default_type,
    )


def publish(url: str, body: str | bytes | None = None, **options: Any) -> str:
    """Publish one message to ``url`` through QStash; returns its message id.

    ``body`` (text or bytes) or ``json=`` (any JSON value); ``method``, ``headers``,
    ``content_type``; when: ``delay`` (seconds, ``"10m"``, a timedelta), ``countdown`` or
    ``eta``; ``retries``, ``retry_delay``, ``timeout``; ``callback`` / ``failure_callback``;
    ``flow_control={"key": ..., "parallelism": ..., "rate": ..., "period": ...}``;
    ``deduplication_id`` / ``content_based_deduplication``; ``queue``; ``label``. Raises
    :class:`~django_qstash.exceptions.PublishError` when QStash did not take it.
    """
    return pipeline.dispatch_one(prepare(url, body, **options), None)


async def apublish(url: str, body: str | bytes | None = None, **options: Any) -> str:
    """:func:`publish` for async code: sent by the event loop's client, no thread hop."""
    [message_id] = await pipeline.adispatch([prepare(url, body, **options)], None)
    return message_id


def publish_batch(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """Publish several messages in one request; each is a dict of :func:`publish`'s arguments
    (``url`` required). Returns their message ids, in order. All are checked first: one bad
    message raises, and none is sent."""
    return pipeline.dispatch(_prepare_all(messages), None, batch=True)


async def apublish_batch(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    """:func:`publish_batch` for async code."""
    return await pipeline.adispatch(_prepare_all(messages), None, batch=True)


def _prepare_all(messages: Iterable[Mapping[str, Any]]) -> list[PreparedMessage]:
    prepared = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping) or "url" not in message:
            raise TypeError(f"message {index}: give a dict of publish()'s arguments with a url")
        arguments = dict(message)
        try:
            item = prepare(arguments.pop("url"), **arguments)
            item.body.decode()
        except UnicodeDecodeError:
            raise ValueError(
                f"message {index}: a batch carries bodies as text; this body is not UTF-8"
            ) from None
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"message {index}: {exc}") from None
        prepared.append(item)
    return prepared


def _body(body: str | bytes | None, json: Any) -> tuple[bytes, str]:
    if json is not _NO_JSON:
        if body is not None:
            raise TypeError("give body= or json=, not both")
        try:
            return _json.dumps(json, allow_nan=False).encode(), "application/json"
        except (TypeError, ValueError) as exc:
            raise ArgumentsNotSerializable(f"json= cannot be sent as JSON: {exc}") from None
    if body is None:
        return b"", "text/plain;charset=utf-8"
    if isinstance(body, str):
        return body.encode(), "text/plain;charset=utf-8"
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), "application/octet-stream"
    raise TypeError(f"body must be str or bytes (or use json=), not {type(body).__name__}")


def _delay(
    delay: int | float | str | datetime.timedelta | None,
    countdown: int | float | None,
    eta: datetime.datetime | str | None,
) -> int | None:
    if delay is not None:
        if countdown is not None or eta is not None:
            raise TypeError("give one of delay, countdown or eta")
        seconds = duration_seconds(delay)
        if seconds < 0:
            raise ValueError(f"delay must not be negative, got {delay!r}")
        return delay_seconds(seconds, None)
    return delay_seconds(countdown, eta)


def _absolute_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f"{name} must be an absolute http(s) URL, not {value!r}")
    return value


def _flow_control(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not value.get("key"):
        raise ValueError("flow_control must be a dict with a 'key' (and parallelism/rate/period)")
    unknown = sorted(set(value) - _FLOW_CONTROL_KEYS)
    if unknown:
        raise ValueError(
            f"flow_control has unknown keys {unknown}; known: key, parallelism, rate, period"
        )
    return dict(value)
