"""A message ready to send: what the publish pipeline produces and every sender consumes.

A :class:`PreparedMessage` is plain data (strings, numbers, dicts), so it can be sent by the
sync client, by an async one, or stored and sent later, without deriving anything again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The QStash options a prepared message may hold, by the name the publisher takes, and the
#: SDK keyword each becomes (``client.message.publish``/``enqueue``, sync and async alike).
SDK_KEYWORDS: dict[str, str] = {
    "delay": "delay",
    "not_before": "not_before",
    "max_retries": "retries",
    "retry_delay": "retry_delay",
    "timeout": "timeout",
    "deduplication_id": "deduplication_id",
    "content_based_deduplication": "content_based_deduplication",
    "callback": "callback",
    "failure_callback": "failure_callback",
    "callback_headers": "callback_headers",
    "failure_callback_headers": "failure_callback_headers",
    "queue": "queue",
    "label": "label",
    "flow_control": "flow_control",
    "method": "method",
}

#: What a QStash schedule can also hold of those (``client.schedule.create``).
SCHEDULE_OPTIONS = frozenset(SDK_KEYWORDS) - {
    "delay",
    "not_before",
    "deduplication_id",
    "content_based_deduplication",
}

CONTENT_TYPE = "application/json"


@dataclass(slots=True)  # built on every publish: slots make that cheaper
class PreparedMessage:
    """One message, ready to publish.

    ``options`` holds the QStash options by the publisher's names (see :data:`SDK_KEYWORDS`);
    ``headers`` the HTTP headers forwarded to the destination. ``task_name``, ``args``,
    ``kwargs`` and ``ignore_result`` say what to record once it is published.
    """

    destination: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    task_name: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    ignore_result: bool = False
    content_type: str = CONTENT_TYPE

    def publish_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``publisher.publish(body, **...)`` for this message."""
        arguments: dict[str, Any] = dict(self.options)
        arguments["url"] = self.destination
        if self.headers:
            arguments["headers"] = self.headers
        if self.content_type != CONTENT_TYPE:
            arguments["content_type"] = self.content_type
        return arguments

    @property
    def queue(self) -> str | None:
        """The QStash queue to enqueue to; None: publish directly."""
        queue = self.options.get("queue")
        return None if queue is None else str(queue)

    def sdk_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the SDK's ``message.publish`` (``QStash`` and ``AsyncQStash``
        alike), the queue aside: with :attr:`queue` set, the message is enqueued there."""
        arguments: dict[str, Any] = {
            "url": self.destination,
            "body": self.body,
            "content_type": self.content_type,
        }
        if self.headers:
            arguments["headers"] = dict(self.headers)
        if self.options:
            for name, value in self.options.items():
                if value is not None and name != "queue":
                    arguments[SDK_KEYWORDS[name]] = value
        return arguments

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy (the body as UTF-8 text)."""
        return {
            "destination": self.destination,
            "body": self.body.decode(),
            "headers": dict(self.headers),
            "options": dict(self.options),
            "task_name": self.task_name,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "ignore_result": self.ignore_result,
            "content_type": self.content_type,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreparedMessage:
        """The message :meth:`to_dict` wrote; unknown option names raise ValueError."""
        options = dict(data.get("options") or {})
        unknown = sorted(set(options) - set(SDK_KEYWORDS))
        if unknown:
            raise ValueError(f"unknown QStash option(s) in a prepared message: {unknown}")
        body = data["body"]
        return cls(
            destination=str(data["destination"]),
            body=body.encode() if isinstance(body, str) else bytes(body),
            headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
            options=options,
            task_name=str(data.get("task_name") or ""),
            args=list(data.get("args") or []),
            kwargs=dict(data.get("kwargs") or {}),
            ignore_result=bool(data.get("ignore_result", False)),
            content_type=str(data.get("content_type") or CONTENT_TYPE),
        )


#: Takes prepared messages about to be sent (to send them later, e.g. after a commit) and
#: returns the ids their results get, or None to let them be sent now.
PublishInterceptor = Callable[[Sequence[PreparedMessage]], "Sequence[str] | None"]
