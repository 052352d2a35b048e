"""What the store keeps, as plain records: messages, DLQ entries, schedules, queues, URL groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django_qstash.devserver.message import Message


@dataclass
class StoredMessage:
    message: Message
    body: bytes
    retried: int
    due_ms: int
    in_flight: bool
    cancel_requested: bool
    seq: int


@dataclass
class DlqEntry:
    dlq_id: str
    time_ms: int
    message: Message
    body: bytes
    retried: int
    response_status: int
    response_headers: dict[str, list[str]]
    response_body: bytes
    error: str | None


@dataclass
class Schedule:
    id: str
    created_ms: int
    next_ms: int | None
    paused: bool
    destination: str
    cron: str
    template: Message
    body: bytes
    last_ms: int | None = None
    last_states: dict[str, str] | None = None
    error: str | None = None

    def data(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "cron": self.cron,
            "template": self.template.to_data(),
            "last_ms": self.last_ms,
            "last_states": self.last_states,
            "error": self.error,
        }


@dataclass
class Queue:
    name: str
    parallelism: int
    paused: bool
    created_ms: int
    updated_ms: int


@dataclass
class Topic:
    name: str
    created_ms: int
    updated_ms: int
    endpoints: list[dict[str, str]]
