"""Delivery: signatures, delivery headers, retries and backoff, non-retryable errors, the DLQ and
callbacks."""

from __future__ import annotations

import base64

import jwt
import pytest
from qstash import Receiver

from django_qstash import signing
from tests.devserver.conftest import NON_RETRYABLE
from tests.devserver.conftest import Receiver as LoopbackReceiver
from tests.support.devserver import DevServerProcess, wait_until

pytestmark = pytest.mark.slow

FAIL = (500, {"error": "boom"}, {})


def _events(server: DevServerProcess, message_id: str, state: str) -> list[dict]:
    return [e for e in server.events(messageId=message_id) if e["state"] == state]


def _wait_state(server: DevServerProcess, message_id: str, state: str) -> dict:
    return wait_until(
        lambda: (_events(server, message_id, state) or [None])[0],
        timeout=15,
        message=f"{message_id} to reach {state} (has {server.message_states(message_id)})",
    )


def test_every_attempt_is_freshly_signed_and_verifies(
    client, receiver: LoopbackReceiver, qstash_devserver: DevServerProcess
):
    url = receiver.script("/signed", FAIL, FAIL)
    response = client.message.publish_json(url=url, body={"hello": "wörld"})
    attempts = receiver.wait("/signed", 3)
    keys = qstash_devserver.keys()
    official = Receiver(keys["current"], keys["next"])
    tokens = []
    for attempt in attempts:
        token = attempt.header("Upstash-Signature")
        official.verify(signature=token, body=attempt.body.decode(), url=url)
        signing.verify(token, attempt.body, url=url, keys=(keys["current"], keys["next"]))
        tokens.append(jwt.decode(token, options={"verify_signature": False}))
    assert len({t["jti"] for t in tokens}) == 3  # a fresh token per attempt
    assert all(t["sub"] == url and t["iss"] == "Upstash" for t in tokens)
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1", "2"]
    assert {a.header("Upstash-Message-Id") for a in attempts} == {response.message_id}


def test_a_tampered_body_does_not_verify(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.url + "/tamper"
    client.message.publish(url=url, body="original")
    (got,) = receiver.wait("/tamper")
    keys = qstash_devserver.keys()
    from qstash.errors import SignatureError

    with pytest.raises(SignatureError):
        Receiver(keys["current"], keys["next"]).verify(
            signature=got.header("Upstash-Signature"), body="changed", url=url
        )
    with pytest.raises(signing.SignatureError):
        signing.verify(
            got.header("Upstash-Signature"), b"original", url=url + "x", keys=(keys["current"],)
        )


def test_default_backoff_and_event_states(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.script("/backoff", FAIL)
    response = client.message.publish_json(url=url, body=1)
    _wait_state(qstash_devserver, response.message_id, "DELIVERED")
    retry = _events(qstash_devserver, response.message_id, "RETRY")[0]
    # e^2.5 s = 12.18 s, scaled by --fast-retries (x0.001) to 12 ms.
    assert retry["nextDeliveryTime"] - retry["time"] == 12
    assert retry["responseStatus"] == 500
    assert qstash_devserver.message_states(response.message_id) == [
        "CREATED",
        "ACTIVE",
        "RETRY",
        "ACTIVE",
        "DELIVERED",
    ]
    logs = client.log.list(filter={"message_id": response.message_id}).logs
    assert {log.state.value for log in logs} == {"CREATED", "ACTIVE", "RETRY", "DELIVERED"}


def test_retry_delay_expression(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.script("/expr", FAIL, FAIL)
    response = client.message.publish_json(url=url, body=1, retry_delay="100000 * (1 + retried)")
    _wait_state(qstash_devserver, response.message_id, "DELIVERED")
    retries = sorted(
        _events(qstash_devserver, response.message_id, "RETRY"), key=lambda e: e["time"]
    )
    assert [e["nextDeliveryTime"] - e["time"] for e in retries] == [100, 200]
    assert retries[0]["retryDelayExpr"] == "100000 * (1 + retried)"


def test_retry_after_is_honoured(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.script("/retry-after", (503, {}, {"Retry-After": "30"}))
    response = client.message.publish_json(url=url, body=1)
    _wait_state(qstash_devserver, response.message_id, "DELIVERED")
    (retry,) = _events(qstash_devserver, response.message_id, "RETRY")
    assert retry["nextDeliveryTime"] - retry["time"] == 30  # 30 s x 0.001


def test_non_retryable_goes_straight_to_the_dlq(
    client, receiver: LoopbackReceiver, qstash_devserver
):
    url = receiver.script("/nonretryable", NON_RETRYABLE)
    response = client.message.publish_json(url=url, body=1, retries=3, label="nr")
    failed = _wait_state(qstash_devserver, response.message_id, "FAILED")
    assert len(receiver.at("/nonretryable")) == 1
    (entry,) = client.dlq.list(filter={"message_id": response.message_id}).messages
    assert entry.response_status == 489
    assert entry.label == "nr"
    assert failed["dlqId"] == entry.dlq_id


def test_489_without_the_header_is_retried(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.script("/plain489", (489, {}, {}))
    response = client.message.publish_json(url=url, body=1)
    _wait_state(qstash_devserver, response.message_id, "DELIVERED")
    assert len(receiver.at("/plain489")) == 2


def test_exhausted_retries_land_in_the_dlq_and_call_the_failure_callback(
    client, receiver: LoopbackReceiver, qstash_devserver
):
    url = receiver.script("/always", FAIL, FAIL)
    failure = receiver.url + "/failure"
    response = client.message.publish_json(
        url=url,
        body={"k": 1},
        retries=1,
        failure_callback=failure,
        failure_callback_headers={"Fcb": "2"},
    )
    (callback,) = receiver.wait("/failure")
    assert len(receiver.at("/always")) == 2
    keys = qstash_devserver.keys()
    Receiver(keys["current"], keys["next"]).verify(
        signature=callback.header("Upstash-Signature"), body=callback.body.decode(), url=failure
    )
    assert callback.header("Fcb") == "2"
    assert callback.header("Upstash-Message-Id") != response.message_id
    payload = callback.json()
    entry = client.dlq.get(payload["dlqId"])
    assert entry.message_id == response.message_id
    assert payload["status"] == 500
    assert payload["retried"] == 1
    assert payload["maxRetries"] == 1
    assert payload["sourceMessageId"] == response.message_id
    assert payload["url"] == url
    assert base64.b64decode(payload["sourceBody"]) == b'{"k": 1}'
    assert base64.b64decode(payload["body"]) == b'{"error": "boom"}'
    assert isinstance(payload["createdAt"], int)
    assert isinstance(payload["notBefore"], int)
    assert payload["sourceHeader"]["Content-Type"] == ["application/json"]


def test_success_calls_the_callback(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.script("/ok", (201, {"made": True}, {"X-Answer": "yes"}))
    callback_url = receiver.url + "/callback"
    response = client.message.publish_json(
        url=url,
        body="x",
        callback=callback_url,
        callback_headers={"Cb": "1"},
    )
    (callback,) = receiver.wait("/callback")
    payload = callback.json()
    assert payload["status"] == 201
    assert payload["sourceMessageId"] == response.message_id
    assert "retried" not in payload  # omitted when 0, as real QStash does
    assert "dlqId" not in payload
    assert payload["header"]["X-Answer"] == ["yes"]
    assert base64.b64decode(payload["body"]) == b'{"made": true}'
    assert callback.header("Cb") == "1"
    assert callback.header("Content-Type") == "application/json"
    assert callback.header("Upstash-Retried") == "0"
    keys = qstash_devserver.keys()
    Receiver(keys["current"], keys["next"]).verify(
        signature=callback.header("Upstash-Signature"),
        body=callback.body.decode(),
        url=callback_url,
    )


def test_callbacks_are_retried(client, receiver: LoopbackReceiver):
    callback_url = receiver.script("/flaky-callback", FAIL)
    client.message.publish_json(url=receiver.url + "/fine", body=1, callback=callback_url)
    attempts = receiver.wait("/flaky-callback", 2)
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "1"]
    assert len({a.header("Upstash-Message-Id") for a in attempts}) == 1


def test_connection_refused_is_a_failure(client, qstash_devserver):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    response = client.message.publish_json(url=f"http://127.0.0.1:{port}/gone", body=1, retries=0)
    failed = _wait_state(qstash_devserver, response.message_id, "FAILED")
    assert failed["responseStatus"] == 0
    assert "Connect" in failed["error"]
