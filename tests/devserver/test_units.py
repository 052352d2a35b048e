"""Pure units of the dev server: durations, backoff, retry-delay expressions, header parsing."""

from __future__ import annotations

import math
import time

import jwt
import pytest
from qstash import Receiver

from django_qstash import signing
from django_qstash.devserver import tokens
from django_qstash.devserver.credentials import DEFAULT_CREDENTIALS
from django_qstash.devserver.durations import (
    InvalidValue,
    RetryDelayExpression,
    default_backoff,
    parse_duration,
    retry_after_seconds,
)
from django_qstash.devserver.options import Headers, parse_destination, parse_message
from django_qstash.devserver.schedules import CronClock, CronExpression


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1d10h30m", 86400 + 36000 + 1800), ("500ms", 0.5), ("7", 7), ("1m30s", 90)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10x", "-5", "s10"])
def test_parse_duration_rejects(text):
    with pytest.raises(InvalidValue):
        parse_duration(text)


def test_default_backoff_matches_the_documented_table():
    assert [round(default_backoff(n)) for n in (1, 2, 3, 4)] == [12, 148, 1808, 22026]
    assert default_backoff(5) == 86400
    assert default_backoff(500) == 86400


def test_retry_delay_expression():
    assert RetryDelayExpression("1000 * retried").milliseconds(0) == 0
    assert RetryDelayExpression("1000 * (1 + retried)").milliseconds(2) == 3000
    assert RetryDelayExpression("pow(2, retried)").milliseconds(3) == 8
    assert RetryDelayExpression("max(10, pow(2, retried))").milliseconds(1) == 10
    assert RetryDelayExpression("exp(retried)").milliseconds(1) == pytest.approx(math.e)
    for bad in ("__import__('os')", "retried.real", "open('x')", "1 +", "lambda: 1"):
        with pytest.raises(InvalidValue):
            RetryDelayExpression(bad)


def test_retry_after_forms():
    assert retry_after_seconds({"retry-after": "30"}) == 30
    assert retry_after_seconds({"retry-after": "6m5s"}) == 365
    assert retry_after_seconds({"x-ratelimit-reset-tokens": "2s"}) == 2
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_seconds({"retry-after": str(2 * 86400)}) is None  # beyond a day
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("https://example.com/hook?x=1&y=2", "https://example.com/hook?x=1&y=2"),
        ("https:/example.com/hook", "https://example.com/hook"),
        ("http:///127.0.0.1:8000/q/", "http://127.0.0.1:8000/q/"),
        ("https%3A%2F%2Fexample.com%2Fa", "https://example.com/a"),
    ],
)
def test_destination_urls(raw, url):
    assert parse_destination(raw).url == url


def test_destination_group_and_invalid():
    assert parse_destination("my-group").url_group == "my-group"
    for bad in ("ftp://x", "http://", "not a url", "https://exa mple.com", "http://h:99999/"):
        with pytest.raises(InvalidValue):
            parse_destination(bad)


def test_parse_message_headers():
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Upstash-Method", "put"),
            ("Upstash-Forward-X-Custom", "v"),
            ("upstash-forward-y", "w"),
            ("Upstash-Retries", "2"),
            ("Upstash-Retry-Delay", "1000 * retried"),
            ("Upstash-Delay", "10s"),
            ("Upstash-Timeout", "30s"),
            ("Upstash-Content-Based-Deduplication", "True"),
            ("Upstash-Flow-Control-Key", "k"),
            ("Upstash-Flow-Control-Value", "parallelism=2, rate=5, period=60s"),
            ("Upstash-Label", "lbl"),
            ("Upstash-Callback", "https://cb.example/c"),
            ("Upstash-Callback-Cb", "1"),
            ("Upstash-Failure-Callback-Retries", "1"),
            ("Upstash-Telemetry-Sdk", "ignored"),
        ]
    )
    message = parse_message(headers, now_ms=1_000_000)
    assert message.method == "PUT"
    assert message.headers == {
        "Content-Type": ["application/json"],
        "X-Custom": ["v"],
        "y": ["w"],
    }
    assert (message.retries, message.retry_delay, message.timeout) == (2, "1000 * retried", 30)
    assert message.not_before_ms == 1_010_000
    assert message.content_based_deduplication is True
    assert (message.flow_key, message.flow_parallelism, message.flow_rate) == ("k", 2, 5)
    assert message.flow_period == 60
    assert message.labels == ["lbl"]
    assert message.callback_headers == {"Cb": ["1"]}
    assert message.failure_callback_headers == {"Retries": ["1"]}


def test_header_forward_takes_neither_hop_by_hop_nor_the_servers_own_headers():
    headers = Headers(
        [
            ("Upstash-Header-Forward", "true"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic eA=="),
            ("Authorization", "Bearer token"),
            ("User-Agent", "python-httpx"),
            ("Upstash-Forward-Upstash-Signature", "forged"),
            ("Upstash-Forward-Content-Type", "text/forged"),
            ("X-Kept", "kept"),
        ]
    )
    assert parse_message(headers, now_ms=0).headers == {
        "Content-Type": ["text/plain"],
        "X-Kept": ["kept"],
    }


def test_flow_control_without_a_period_gets_the_default_second():
    headers = Headers([("Upstash-Flow-Control-Key", "k"), ("Upstash-Flow-Control-Value", "rate=3")])
    message = parse_message(headers, now_ms=0)
    assert (message.flow_rate, message.flow_period) == (3, 1)
    assert message.flow_control_fields() == {"flowControlKey": "k", "rate": 3, "period": 1}


@pytest.mark.parametrize(
    "header",
    [
        ("Upstash-Retries", "many"),
        ("Upstash-Delay", "soon"),
        ("Upstash-Method", "FETCH"),
        ("Upstash-Retry-Delay", "import os"),
        ("Upstash-Callback", "not-a-url"),
        ("Upstash-Flow-Control-Value", "parallelism=2"),
    ],
)
def test_parse_message_rejects(header):
    with pytest.raises(InvalidValue):
        parse_message(Headers([header]), now_ms=0)


def test_token_passes_the_official_receiver_and_the_webhook_check():
    body = b'{"v":1,"task":"x"}'
    url = "http://127.0.0.1:8000/qstash/webhook/"
    creds = DEFAULT_CREDENTIALS
    token = tokens.sign(body, url, creds.current_signing_key)
    Receiver(creds.current_signing_key, creds.next_signing_key).verify(
        signature=token, body=body.decode(), url=url
    )
    signing.verify(token, body, url=url, keys=(creds.current_signing_key, creds.next_signing_key))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"iss", "sub", "exp", "nbf", "iat", "jti", "body"}
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert isinstance(claims["jti"], str)
    assert claims["jti"].startswith("jwt_")
    assert claims["body"].endswith("=")  # padded, as in the docs' example


def test_cron_expressions():
    assert CronExpression("*/5 * * * *").next_after(0) == 300
    ny = CronExpression("CRON_TZ=America/New_York 0 4 * * *")
    # 04:00 in New York on 1970-01-01 is 09:00 UTC.
    assert ny.next_after(0) == 9 * 3600
    for bad in ("* * * *", "61 * * * *", "CRON_TZ=Nowhere/Land * * * * *", "* * * * * *"):
        with pytest.raises(InvalidValue):
            CronExpression(bad)


def test_cron_tick_compresses_cron_time():
    clock = CronClock(tick=2, anchor=1_000_020)  # anchor floors to the minute: 1_000_020
    cron = CronExpression("* * * * *")
    first = clock.next_fire_ms(cron, 1_000_020_000)
    second = clock.next_fire_ms(cron, first)
    assert 0 < first - 1_000_020_000 <= 2001
    assert 1999 <= second - first <= 2001


def test_idle_connections_to_a_destination_are_not_reused_past_the_keepalive_expiry(
    recorder, monkeypatch
):
    # A connection idle for longer than the destination keeps it (gunicorn: 2 s) would be
    # reset by the destination as the next attempt starts: a failed attempt for nothing.
    from django_qstash.devserver import delivery
    from django_qstash.devserver.message import Message
    from django_qstash.devserver.store import StoredMessage

    assert delivery.KEEPALIVE_EXPIRY < 2
    monkeypatch.setattr(delivery, "KEEPALIVE_EXPIRY", 0.3)

    class Keys:
        def pair(self) -> tuple[str, str]:
            return DEFAULT_CREDENTIALS.current_signing_key, DEFAULT_CREDENTIALS.next_signing_key

    deliverer = delivery.Deliverer(Keys(), default_timeout=5, max_connections=2)  # type: ignore[arg-type]
    stored = StoredMessage(
        Message(url=f"{recorder.url}/hook", id="msg_1"), b"{}", 0, 0, False, False, 0
    )
    try:
        for pause in (0, 0, 0.6):
            time.sleep(pause)
            assert deliverer.attempt(stored).ok
    finally:
        deliverer.close()
    first, second, third = (request.client[1] for request in recorder.requests)
    assert first == second  # reused while fresh
    assert third != second  # a new connection after the expiry
