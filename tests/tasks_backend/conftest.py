"""Fixtures for the django.tasks backend: a recording QStash, signed deliveries, signal capture."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client, override_settings

from django_qstash import hooks
from django_qstash.tasks_compat import task_enqueued, task_finished, task_started
from tests.support.signing import make_token
from tests.tasks_backend import tasks
from tests.tasks_backend.contract import contract, contract_server  # noqa: F401 - fixtures

QSTASH_TASKS = {
    "default": {
        "BACKEND": "django_qstash.backends.QStashBackend",
        "QUEUES": ["default", "emails"],
    }
}


@pytest.fixture(autouse=True)
def qstash_backend() -> Iterator[None]:
    """Every test here runs against the QStash backend, whatever the project configures."""
    tasks.calls.clear()
    with override_settings(TASKS=QSTASH_TASKS, DJANGO_QSTASH_ALWAYS_EAGER=False):
        yield


class FakeStore:
    """A ResultStore that keeps what it is told in a dict; ``results`` maps id -> StoredResult."""

    def __init__(self) -> None:
        self.results: dict[str, hooks.StoredResult] = {}
        self.published: list[tuple[str, str, list[Any], dict[str, Any]]] = []

    def claim(self, delivery: hooks.Delivery) -> hooks.ClaimDecision:
        return hooks.ClaimDecision.RUN

    def record_success(self, delivery: hooks.Delivery, value: Any, duration: float) -> None:
        pass

    def record_failure(self, delivery, exc, traceback, *, final, duration) -> None:  # type: ignore[no-untyped-def]
        pass

    def record_retry(self, delivery, exc, countdown) -> None:  # type: ignore[no-untyped-def]
        pass

    def record_published(self, task_id, task_name, args, kwargs) -> None:  # type: ignore[no-untyped-def]
        self.published.append((task_id, task_name, list(args), dict(kwargs)))

    def get(self, task_id: str) -> hooks.StoredResult | None:
        return self.results.get(task_id)


@pytest.fixture
def fake_store() -> Iterator[FakeStore]:
    previous = hooks.get_result_store()
    store = FakeStore()
    hooks.register_result_store(store)
    try:
        yield store
    finally:
        hooks.unregister_result_store()
        if previous is not None:
            hooks.register_result_store(previous)


@dataclass
class Delivered:
    status_code: int
    body: dict[str, Any]


def deliver(
    body: bytes | dict[str, Any],
    *,
    message_id: str | None = None,
    retried: int = 0,
    client: Client | None = None,
) -> Delivered:
    """POST a signed delivery of ``body`` to the webhook through Django's test client."""
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    url = hooks.webhook_url()
    response = (client or Client()).post(
        urlsplit(url).path,
        raw,
        content_type="application/json",
        headers={
            "Upstash-Signature": make_token(raw, url),
            "Upstash-Message-Id": message_id or f"msg_{uuid.uuid4().hex}",
            "Upstash-Retried": str(retried),
        },
    )
    return Delivered(response.status_code, json.loads(response.content))


@pytest.fixture
def deliver_body() -> Callable[..., Delivered]:
    return deliver


@dataclass
class Seen:
    signal: str
    sender: Any
    status: str
    result: Any
    attempts: int


@dataclass
class SignalLog:
    seen: list[Seen] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [s.signal for s in self.seen]

    def of(self, name: str) -> list[Seen]:
        return [s for s in self.seen if s.signal == name]


@pytest.fixture
def task_signals() -> Iterator[SignalLog]:
    """Every django.tasks signal sent, with the result's status and attempts at that moment."""
    log = SignalLog()
    receivers = {}
    for name, signal in (
        ("enqueued", task_enqueued),
        ("started", task_started),
        ("finished", task_finished),
    ):

        def receiver(sender: Any, task_result: Any, _name: str = name, **kwargs: Any) -> None:
            log.seen.append(
                Seen(_name, sender, str(task_result.status), task_result, task_result.attempts)
            )

        signal.connect(receiver, weak=False)
        receivers[signal] = receiver
    try:
        yield log
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver)
