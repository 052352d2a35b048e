"""Signed deliveries over real HTTP to a live Django server (pytest-django's live_server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from django.test import override_settings

from django_qstash import hooks
from example.models import TaskRun
from tests.support.signing import make_token


@pytest.fixture
def webhook(live_server) -> Iterator[str]:
    with override_settings(DJANGO_QSTASH_DOMAIN=live_server.url):
        yield hooks.webhook_url()


def post(url: str, body: bytes, **headers: str) -> httpx.Response:
    headers.setdefault("Upstash-Signature", make_token(body, url))
    headers.setdefault("Content-Type", "application/json")
    return httpx.post(url, content=body, headers=headers, timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_signed_delivery_runs_the_task(webhook):
    body = hooks.build_message("example.tasks.record", ["live-1"], {"value": {"n": 1}})
    response = post(webhook, body, **{"Upstash-Message-Id": "msg_live_1", "Upstash-Retried": "0"})
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "live-1"
    assert list(TaskRun.objects.values_list("task", "key", "value")) == [
        ("record", "live-1", {"n": 1})
    ]


@pytest.mark.django_db(transaction=True)
def test_a_tampered_delivery_runs_nothing(webhook):
    body = hooks.build_message("example.tasks.record", ["live-2"])
    token = make_token(body, webhook)
    tampered = body.replace(b"live-2", b"live-3")
    response = post(webhook, tampered, **{"Upstash-Signature": token})
    assert response.status_code == 401
    assert json.loads(response.content)["status"] == "invalid_signature"
    assert not TaskRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_async_task_runs_over_wsgi(webhook):
    body = hooks.build_message("example.tasks.async_double", [21])
    response = post(webhook, body)
    assert response.status_code == 200
    assert response.json()["result"] == 42


@pytest.mark.django_db(transaction=True)
def test_unknown_task_is_non_retryable(webhook):
    body = json.dumps({"v": 1, "task": "subprocess.run", "args": [["id"]]}).encode()
    response = post(webhook, body)
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
