"""Fixtures of the Celery compatibility tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from django_qstash import hooks
from tests.support.signing import make_token

WEBHOOK = "http://127.0.0.1:8000/qstash/webhook/"


def deliver(
    body: bytes | dict[str, Any],
    *,
    query: str = "",
    message_id: str = "msg_test",
    retried: int = 0,
    **headers: str,
) -> Any:
    """POST a signed delivery (or, with ``query``, a callback) to the webhook."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    url = f"{WEBHOOK}?{query}" if query else WEBHOOK
    headers.setdefault("Upstash-Message-Id", message_id)
    headers.setdefault("Upstash-Retried", str(retried))
    headers["Upstash-Signature"] = make_token(raw, url)
    path = "/qstash/webhook/" + (f"?{query}" if query else "")
    return Client().post(path, raw, content_type="application/json", headers=headers)


def callback_body(
    source: bytes, answer: dict[str, Any], *, status: int = 200, source_id: str = "msg_src"
) -> dict[str, Any]:
    """The JSON QStash POSTs to a (failure) callback URL (docs/qstash-protocol.md, "Callbacks")."""
    return {
        "status": status,
        "header": {"Content-Type": ["application/json"]},
        "body": base64.b64encode(json.dumps(answer).encode()).decode(),
        "maxRetries": 3,
        "sourceMessageId": source_id,
        "url": WEBHOOK,
        "method": "POST",
        "sourceHeader": {"Content-Type": ["application/json"]},
        "sourceBody": base64.b64encode(source).decode(),
        "notBefore": 1724679589965,
        "createdAt": 1724679589965,
    }


class FakeStore:
    """A result store that runs everything and remembers what it was told."""

    def __init__(self, *, with_expired: bool = True) -> None:
        self.calls: list[tuple[str, Any]] = []
        if with_expired:
            self.record_expired = lambda delivery: self.calls.append(("expired", delivery))

    def claim(self, delivery: hooks.Delivery) -> hooks.ClaimDecision:
        self.calls.append(("claim", delivery.message_id))
        return hooks.ClaimDecision.RUN

    def record_success(self, delivery: hooks.Delivery, value: Any, duration: float) -> None:
        self.calls.append(("success", value))

    def record_failure(self, delivery, exc, traceback, *, final, duration) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("failure", final))

    def record_retry(self, delivery, exc, countdown) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("retry", exc))

    def record_published(self, task_id, task_name, args, kwargs) -> None:  # type: ignore[no-untyped-def]
        self.calls.append(("published", task_id))

    def get(self, task_id: str) -> None:
        return None


@pytest.fixture
def fake_store() -> Iterator[FakeStore]:
    previous = hooks.get_result_store()
    store = FakeStore()
    hooks.register_result_store(store)
    yield store
    if previous is not None:
        hooks.register_result_store(previous)
    else:
        hooks.unregister_result_store()
