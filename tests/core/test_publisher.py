"""Publishing through the official SDK to a loopback server that records what arrived (docs/qstash-protocol.md, "Publishing")."""

from __future__ import annotations

import json
import socket

import pytest
from django.test import override_settings

from django_qstash import shared_task
from django_qstash.exceptions import PublishError
from django_qstash.publisher import get_client

WEBHOOK = "http://127.0.0.1:8000/qstash/webhook/"


@shared_task(
    max_retries=2,
    timeout=30,
    retry_delay="1000 * retried",
    callback="https://cb.example/ok",
    failure_callback="https://cb.example/failed",
    headers={"X-Tenant": "acme"},
    label="reports",
)
def fully_configured(x: int) -> int:
    return x


@shared_task
def plain(x: int) -> int:
    return x


def test_delay_publishes_one_json_message_to_the_webhook(qstash):
    plain.delay(7)
    (request,) = qstash.requests
    assert request.method == "POST"
    assert request.path == f"/v2/publish/{WEBHOOK}"
    assert request.headers["Authorization"].startswith("Bearer ")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"v": 1, "task": plain.name, "args": [7], "kwargs": {}}


def test_decorator_options_become_qstash_headers(qstash):
    fully_configured.delay(1)
    headers = qstash.requests[0].headers
    assert headers["Upstash-Retries"] == "2"
    assert headers["Upstash-Timeout"] == "30s"
    assert headers["Upstash-Retry-Delay"] == "1000 * retried"
    assert headers["Upstash-Callback"] == "https://cb.example/ok"
    assert headers["Upstash-Failure-Callback"] == "https://cb.example/failed"
    assert headers["Upstash-Forward-X-Tenant"] == "acme"
    assert headers["Upstash-Label"] == "reports"
    # max_retries also travels in the message, so the webhook knows the final attempt.
    assert qstash.requests[0].json()["options"] == {"max_retries": 2}


def test_per_call_options_override_the_decorator(qstash):
    fully_configured.apply_async(
        (1,),
        max_retries=0,
        timeout=5,
        deduplication_id="order-1",
        headers={"X-Tenant": "other"},
        countdown=10,
    )
    headers = qstash.requests[0].headers
    assert headers["Upstash-Retries"] == "0"
    assert headers["Upstash-Timeout"] == "5s"
    assert headers["Upstash-Deduplication-Id"] == "order-1"
    assert headers["Upstash-Forward-X-Tenant"] == "other"
    assert headers["Upstash-Delay"] == "10s"


def test_content_based_deduplication_and_task_id(qstash):
    plain.apply_async((1,), content_based_deduplication=True)
    assert qstash.requests[-1].headers["Upstash-Content-Based-Deduplication"] == "True"
    plain.apply_async((1,), task_id="my-id")
    assert qstash.requests[-1].headers["Upstash-Deduplication-Id"] == "my-id"


def test_time_limit_maps_to_the_qstash_timeout(qstash):
    plain.apply_async((1,), time_limit=90)
    assert qstash.requests[-1].headers["Upstash-Timeout"] == "90s"


def test_queue_enqueues(qstash):
    plain.apply_async((1,), queue="emails")
    assert qstash.requests[-1].path == f"/v2/enqueue/emails/{WEBHOOK}"


def test_queue_with_a_countdown_keeps_the_delay(qstash):
    plain.apply_async((1,), queue="emails", countdown=30)
    request = qstash.requests[-1]
    assert request.path == f"/v2/enqueue/emails/{WEBHOOK}"
    assert request.headers["Upstash-Delay"] == "30s"
    assert request.json()["args"] == [1]


def test_one_client_and_one_connection_for_many_publishes(qstash):
    for value in range(20):
        plain.delay(value)
    assert get_client() is get_client()
    assert len({request.client for request in qstash.requests}) == 1


def test_client_is_rebuilt_when_settings_change(qstash):
    first = get_client()
    with override_settings(QSTASH_TOKEN="another-token"):
        assert get_client() is not first
        plain.delay(1)
    assert qstash.requests[-1].headers["Authorization"] == "Bearer another-token"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_qstash_raises_a_publish_error_that_says_what_to_do():
    with override_settings(QSTASH_URL=f"http://127.0.0.1:{_closed_port()}"):
        with pytest.raises(PublishError) as info:
            plain.delay(1)
    error = info.value
    assert "Could not reach QStash" in str(error)
    assert "check QSTASH_URL" in str(error)
    assert error.status is None
    assert error.cause is not None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"error": "invalid token"}, "HTTP 401"),
        (400, {"error": "invalid destination"}, "invalid destination"),
        (500, {"error": "internal"}, "HTTP 500"),
    ],
)
def test_qstash_errors_raise_a_publish_error_with_its_answer(qstash, status, body, expected):
    qstash.answer = (status, body, {})
    with pytest.raises(PublishError, match=expected) as info:
        plain.delay(1)
    assert info.value.status == status
    assert json.loads(info.value.body) == body


def test_rate_limits_raise_a_publish_error(qstash):
    qstash.answer = (429, {"error": "slow down"}, {"Burst-RateLimit-Reset": "12"})
    with pytest.raises(PublishError, match="rate-limited") as info:
        plain.delay(1)
    assert info.value.status == 429
    qstash.answer = (429, {"error": "quota"}, {"RateLimit-Limit": "500", "RateLimit-Reset": "1"})
    with pytest.raises(PublishError, match="daily message quota"):
        plain.delay(1)


def test_publish_without_a_domain_is_a_clear_configuration_error(qstash):
    from django.core.exceptions import ImproperlyConfigured

    with override_settings(DJANGO_QSTASH_DOMAIN=None):
        with pytest.raises(ImproperlyConfigured, match="DJANGO_QSTASH_DOMAIN is not set"):
            plain.delay(1)
    assert qstash.requests == []


def test_force_https_rewrites_an_http_domain(qstash):
    with override_settings(
        DJANGO_QSTASH_DOMAIN="http://example.com", DJANGO_QSTASH_FORCE_HTTPS=True
    ):
        plain.delay(1)
    assert qstash.requests[-1].path == "/v2/publish/https://example.com/qstash/webhook/"


def test_a_publish_retried_after_a_lost_answer_carries_one_deduplication_id(recorder):
    # QStash enqueued the message but its answer was lost: the SDK publishes again. Both
    # requests carry the same deduplication id, so QStash keeps one message, not two.
    from tests.support.lossyproxy import LossyProxy

    with LossyProxy(recorder.url, drop=1) as proxy:
        with override_settings(QSTASH_URL=proxy.url, DJANGO_QSTASH_PUBLISH_RETRIES=2):
            plain.delay(1)
    first, second = recorder.requests
    assert first.headers["Upstash-Deduplication-Id"].startswith("dq-")
    assert first.headers["Upstash-Deduplication-Id"] == second.headers["Upstash-Deduplication-Id"]


def test_deduplication_ids_are_per_call_and_never_replace_the_callers(qstash):
    with override_settings(DJANGO_QSTASH_PUBLISH_RETRIES=2):
        plain.delay(1)
        plain.delay(1)
        plain.apply_async((1,), deduplication_id="mine")
        plain.apply_async((1,), content_based_deduplication=True)
    first, second, mine, content = qstash.requests
    assert first.headers["Upstash-Deduplication-Id"] != second.headers["Upstash-Deduplication-Id"]
    assert mine.headers["Upstash-Deduplication-Id"] == "mine"
    assert "Upstash-Deduplication-Id" not in content.headers
    # Without retries there is nothing to deduplicate.
    with override_settings(DJANGO_QSTASH_PUBLISH_RETRIES=0):
        plain.delay(1)
    assert "Upstash-Deduplication-Id" not in qstash.requests[-1].headers
