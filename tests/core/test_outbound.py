"""``django_qstash.publish`` / ``apublish`` / ``publish_batch`` to any URL, over loopback HTTP to
the recorder standing in for QStash: what QStash is asked, and every mistake refused before
anything is sent."""

from __future__ import annotations

import asyncio
import datetime
import json
from typing import Any

import pytest

import django_qstash
from django_qstash.exceptions import ArgumentsNotSerializable, PublishError

HOOK = "https://ci.example.com/hooks/build"


def upstash_headers(request: Any) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower().startswith("upstash-")}


def test_publish_json_to_any_url(qstash):
    message_id = django_qstash.publish(HOOK, json={"ref": "main", "n": 1})
    assert message_id == "msg_recorded"
    (request,) = qstash.requests
    assert request.method == "POST"
    assert request.path == f"/v2/publish/{HOOK}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"ref": "main", "n": 1}
    assert request.headers["Authorization"].startswith("Bearer ")


def test_every_option_becomes_its_qstash_header(qstash):
    django_qstash.publish(
        HOOK,
        body="plain text",
        method="put",
        headers={"X-Build": "42"},
        delay="2m",
        retries=4,
        retry_delay="1000 * retried",
        timeout=datetime.timedelta(seconds=30),
        callback="https://ci.example.com/done",
        failure_callback="https://ci.example.com/failed",
        flow_control={"key": "ci", "parallelism": 2, "rate": 5, "period": "1m"},
        deduplication_id="build-42",
        label="ci",
    )
    (request,) = qstash.requests
    assert request.body == b"plain text"
    assert request.headers["Content-Type"] == "text/plain;charset=utf-8"
    headers = upstash_headers(request)
    assert headers["Upstash-Method"] == "PUT"
    assert headers["Upstash-Forward-X-Build"] == "42"
    assert headers["Upstash-Delay"] == "120s"
    assert headers["Upstash-Retries"] == "4"
    assert headers["Upstash-Retry-Delay"] == "1000 * retried"
    assert headers["Upstash-Timeout"] == "30s"
    assert headers["Upstash-Callback"] == "https://ci.example.com/done"
    assert headers["Upstash-Failure-Callback"] == "https://ci.example.com/failed"
    assert headers["Upstash-Flow-Control-Key"] == "ci"
    assert "parallelism=2" in headers["Upstash-Flow-Control-Value"]
    assert headers["Upstash-Deduplication-Id"] == "build-42"
    assert headers["Upstash-Label"] == "ci"


def test_countdown_eta_and_content_based_deduplication(qstash):
    django_qstash.publish(HOOK, json=1, countdown=9.5, content_based_deduplication=True)
    eta = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    django_qstash.publish(HOOK, body=b"\x00\x01", eta=eta, queue="builds")
    first, second = qstash.requests
    assert upstash_headers(first)["Upstash-Delay"] == "10s"
    assert upstash_headers(first)["Upstash-Content-Based-Deduplication"].lower() == "true"
    assert second.path == f"/v2/enqueue/builds/{HOOK}"
    assert second.headers["Content-Type"] == "application/octet-stream"
    assert 295 <= int(upstash_headers(second)["Upstash-Delay"].rstrip("s")) <= 300


def test_apublish_sends_exactly_what_publish_sends(qstash):
    options: dict[str, Any] = {"json": {"a": 1}, "delay": 30, "retries": 2, "label": "x"}
    django_qstash.publish(HOOK, **options)
    assert asyncio.run(django_qstash.apublish(HOOK, **options)) == "msg_recorded"
    sync_request, async_request = qstash.requests
    for attribute in ("method", "path", "body"):
        assert getattr(async_request, attribute) == getattr(sync_request, attribute)
    assert upstash_headers(async_request) == upstash_headers(sync_request)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_publish_batch_sends_several_urls_in_one_request(qstash, asynchronous):
    qstash.answer = (200, [{"messageId": "msg_a"}, {"messageId": "msg_b"}], {})
    messages = [
        {"url": HOOK, "json": {"n": 1}, "retries": 1},
        {"url": "https://other.example.com/in", "body": "two", "method": "PUT"},
    ]
    if asynchronous:
        ids = asyncio.run(django_qstash.apublish_batch(messages))
    else:
        ids = django_qstash.publish_batch(messages)
    assert ids == ["msg_a", "msg_b"]
    (request,) = qstash.requests
    assert request.path == "/v2/batch"
    first, second = request.json()
    assert (first["destination"], first["body"]) == (HOOK, '{"n": 1}')
    assert first["headers"]["Upstash-Retries"] == "1"
    assert (second["destination"], second["body"]) == ("https://other.example.com/in", "two")
    assert second["headers"]["Upstash-Method"] == "PUT"
    assert second["headers"]["Content-Type"] == "text/plain;charset=utf-8"


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"url": "/relative"}, ValueError, "absolute http"),
        ({"url": "ftp://x"}, ValueError, "absolute http"),
        ({"url": HOOK, "body": "x", "json": {}}, TypeError, "not both"),
        ({"url": HOOK, "body": 12}, TypeError, "str or bytes"),
        ({"url": HOOK, "json": {"x": float("nan")}}, ArgumentsNotSerializable, "JSON"),
        ({"url": HOOK, "json": {"x": object()}}, ArgumentsNotSerializable, "JSON"),
        ({"url": HOOK, "method": "TRACE"}, ValueError, "method must be"),
        ({"url": HOOK, "delay": -1}, ValueError, "negative"),
        ({"url": HOOK, "delay": "soon"}, ValueError, "duration"),
        ({"url": HOOK, "delay": 5, "countdown": 5}, TypeError, "one of delay"),
        ({"url": HOOK, "countdown": 5, "eta": "2030-01-01T00:00:00Z"}, TypeError, "not both"),
        ({"url": HOOK, "retries": -1}, ValueError, "retries"),
        ({"url": HOOK, "retries": "3"}, ValueError, "retries"),
        ({"url": HOOK, "timeout": "forever"}, ValueError, "duration"),
        ({"url": HOOK, "callback": "done"}, ValueError, "callback must be"),
        ({"url": HOOK, "flow_control": {"parallelism": 1}}, ValueError, "'key'"),
        ({"url": HOOK, "flow_control": {"key": "k", "burst": 1}}, ValueError, "unknown keys"),
        ({"url": HOOK, "priority": 1}, TypeError, "priority"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_sent(qstash, arguments, error, match):
    url = arguments.pop("url")
    with pytest.raises(error, match=match):
        django_qstash.publish(url, **arguments)
    with pytest.raises(error, match=match):
        asyncio.run(django_qstash.apublish(url, **arguments))
    assert qstash.requests == []


def test_one_bad_message_in_a_batch_sends_none(qstash):
    good = {"url": HOOK, "json": 1}
    for bad, match in (
        ({"json": 1}, "with a url"),
        ({"url": HOOK, "body": b"\xff\xfe"}, "not UTF-8"),
        ({"url": HOOK, "retries": -2}, "message 1: retries"),
    ):
        with pytest.raises((TypeError, ValueError), match=match):
            django_qstash.publish_batch([good, bad])
    assert qstash.requests == []


def test_qstash_refusing_the_message_raises_publish_error(qstash):
    qstash.answer = (400, {"error": "invalid destination url"}, {})
    with pytest.raises(PublishError, match="invalid destination url") as refused:
        django_qstash.publish(HOOK, json=1)
    assert refused.value.status == 400
    with pytest.raises(PublishError, match="HTTP 400"):
        asyncio.run(django_qstash.apublish(HOOK, json=1))
