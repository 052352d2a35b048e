"""The stored message: what was published, and how QStash's API shows it."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from typing import Any

HeaderMap = dict[str, list[str]]

#: Messages made by the server itself.
KIND_MESSAGE = "message"
KIND_CALLBACK = "callback"
KIND_FAILURE_CALLBACK = "failure_callback"

DEFAULT_RETRIES = 3
REDACTED = "REDACTED"

#: Headers the server itself puts on a delivery (some only when they apply), lower-cased. A
#: forwarded header of the same name is dropped: the destination must see the server's own.
DELIVERY_HEADERS = frozenset(
    {
        "user-agent",
        "content-type",
        "upstash-signature",
        "upstash-message-id",
        "upstash-retried",
        "upstash-schedule-id",
        "upstash-caller-ip",
        "upstash-topic-name",
    }
)


@dataclass
class Message:
    """One message, or a schedule's template for the messages it produces (then ``id`` is "")."""

    url: str
    id: str = ""
    method: str = "POST"
    #: Headers delivered to the destination: the forwarded ones and Content-Type.
    headers: HeaderMap = field(default_factory=dict)
    retries: int = DEFAULT_RETRIES
    retry_delay: str | None = None
    #: Seconds; ``None`` means the server's maximum.
    timeout: float | None = None
    #: Seconds; kept on schedule templates (and for display), already applied to ``not_before``.
    delay: float = 0.0
    callback: str | None = None
    failure_callback: str | None = None
    #: ``Upstash-Callback-*`` headers as given, prefix stripped (config and forwarded ones).
    callback_headers: HeaderMap = field(default_factory=dict)
    failure_callback_headers: HeaderMap = field(default_factory=dict)
    deduplication_id: str | None = None
    content_based_deduplication: bool = False
    flow_key: str | None = None
    flow_parallelism: int | None = None
    flow_rate: int | None = None
    flow_period: float | None = None
    labels: list[str] = field(default_factory=list)
    redact: list[str] = field(default_factory=list)
    queue_name: str | None = None
    topic_name: str | None = None
    endpoint_name: str | None = None
    schedule_id: str | None = None
    caller_ip: str | None = None
    created_ms: int = 0
    not_before_ms: int = 0
    kind: str = KIND_MESSAGE
    source_message_id: str | None = None
    #: The Upstash Workflow run this message belongs to (see ``workflows``), and its call type
    #: (``toCallback`` for a ``context.call`` to a third party).
    workflow_run_id: str | None = None
    workflow_call_type: str | None = None

    def to_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Message:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def copy(self, **changes: Any) -> Message:
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str | None:
        return self.labels[0] if self.labels else None

    # ---------------------------------------------------------------- representations

    def body_fields(self, body: bytes, *, prefix: str = "body") -> dict[str, Any]:
        """``body`` when it is UTF-8 text, ``bodyBase64`` otherwise (as the SDKs read it)."""
        if "body" in self.redact:
            return {prefix: REDACTED}
        try:
            return {prefix: body.decode("utf-8")}
        except UnicodeDecodeError:
            return {prefix + "Base64": base64.b64encode(body).decode()}

    def shown_headers(self) -> HeaderMap:
        if "header" in self.redact:
            return {name: [REDACTED] for name in self.headers}
        redacted = {
            item[len("header[") : -1].lower()
            for item in self.redact
            if item.startswith("header[") and item.endswith("]")
        }
        return {
            name: [REDACTED] if name.lower() in redacted else list(values)
            for name, values in self.headers.items()
        }

    def api_fields(self) -> dict[str, Any]:
        """The fields common to messages, DLQ entries and log events (without the body)."""
        data: dict[str, Any] = {
            "messageId": self.id,
            "url": self.url,
            "method": self.method,
            "header": self.shown_headers(),
            "maxRetries": self.retries,
            "notBefore": self.not_before_ms,
            "createdAt": self.created_ms,
        }
        optional: dict[str, Any] = {
            "topicName": self.topic_name,
            "endpointName": self.endpoint_name,
            "queueName": self.queue_name,
            "callback": self.callback,
            "failureCallback": self.failure_callback,
            "callbackHeader": self.callback_headers or None,
            "failureCallbackHeader": self.failure_callback_headers or None,
            "scheduleId": self.schedule_id,
            "callerIP": self.caller_ip,
            "retryDelayExpression": self.retry_delay,
            "timeout": int(self.timeout) if self.timeout is not None else None,
            "label": self.label,
            "labels": self.labels or None,
            "workflowRunId": self.workflow_run_id,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        data.update(self.flow_control_fields())
        return data

    def flow_control_fields(self) -> dict[str, Any]:
        if not self.flow_key:
            return {}
        data: dict[str, Any] = {"flowControlKey": self.flow_key}
        if self.flow_parallelism is not None:
            data["parallelism"] = self.flow_parallelism
        if self.flow_rate is not None:
            data["rate"] = self.flow_rate
        if self.flow_period is not None:
            data["period"] = int(self.flow_period)
        return data

    def to_api(self, body: bytes) -> dict[str, Any]:
        data = self.api_fields()
        data.update(self.body_fields(body))
        return data
