"""Signature attacks over live HTTP against the sample project under gunicorn.

Every forged, stale, misdirected or tampered delivery is answered ``401 invalid_signature``
(a replay ``403 replayed``) with a small JSON body, and nothing runs: no side effect of the task,
no stored result. Signatures are checked before the body is even parsed, so a forged request
learns nothing about the message format. (The token-by-token parity with the official Receiver is
tests/core/test_signing.py; this is the attacker's view of a deployed server.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.reliability.conftest import RECORD, Webhook, assert_refused, message, new_id

pytestmark = pytest.mark.slow


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


def _claims(hook: Webhook, body: bytes) -> dict[str, Any]:
    return jwt.decode(hook.token(body), options={"verify_signature": False})


def _hmac_token(hook: Webhook, payload: bytes) -> str:
    """A token correctly signed with the current key whose payload is ``payload`` as it is."""
    import hmac

    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(payload)}"
    digest = hmac.digest(hook.current_key.encode(), signing_input.encode(), "sha256")
    return f"{signing_input}.{_b64(digest)}"


def _flip_last_char(token: str) -> str:
    return token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]


# Each attack: (hook, body) -> (the body actually sent, the Upstash-Signature or None, headers).
Attack = Callable[[Webhook, bytes], tuple[bytes, str | None, dict[str, str]]]
NOW = time.time

ATTACKS: dict[str, Attack] = {
    "missing header": lambda h, b: (b, None, {}),
    "empty header": lambda h, b: (b, None, {"Upstash-Signature": ""}),
    "garbage": lambda h, b: (b, "not a token at all", {}),
    "three garbage segments": lambda h, b: (b, "a.b.c", {}),
    "random bytes": lambda h, b: (b, _b64(hashlib.sha256(b).digest() * 4), {}),
    "alg none": lambda h, b: (b, _unsigned({"alg": "none", "typ": "JWT"}, _claims(h, b)), {}),
    "alg none, uppercase": lambda h, b: (b, _unsigned({"alg": "NONE"}, _claims(h, b)), {}),
    "HS512 with the right key": lambda h, b: (b, h.token(b, algorithm="HS512"), {}),
    "wrong key": lambda h, b: (b, h.token(b, key="sig_" + "x" * 28), {}),
    "signature bytes tampered": lambda h, b: (b, _flip_last_char(h.token(b)), {}),
    "expired": lambda h, b: (b, h.token(b, now=NOW() - 600), {}),
    "expired beyond the clock tolerance": lambda h, b: (b, h.token(b, now=NOW() - 310), {}),
    "not yet valid": lambda h, b: (b, h.token(b, nbf=int(NOW()) + 120), {}),
    "issued in the future": lambda h, b: (b, h.token(b, now=NOW() + 120), {}),
    "wrong issuer": lambda h, b: (b, h.token(b, iss="Evil"), {}),
    "issuer in lower case": lambda h, b: (b, h.token(b, iss="upstash"), {}),
    "no issuer": lambda h, b: (b, h.token(b, iss=...), {}),
    "no exp": lambda h, b: (b, h.token(b, exp=...), {}),
    "no nbf": lambda h, b: (b, h.token(b, nbf=...), {}),
    "no sub": lambda h, b: (b, h.token(b, sub=...), {}),
    "exp as a string": lambda h, b: (b, h.token(b, exp=str(int(NOW()) + 300)), {}),
    "an audience": lambda h, b: (b, h.token(b, aud="someone-else"), {}),
    "integer jti": lambda h, b: (b, h.token(b, jti=12345), {}),
    "claims not an object": lambda h, b: (b, _hmac_token(h, b"[1, 2, 3]"), {}),
    "claims not JSON": lambda h, b: (b, _hmac_token(h, b"\xff\xfe not json"), {}),
    "minted for another host": lambda h, b: (
        b,
        h.token(b, h.url.replace("127.0.0.1", "localhost")),
        {},
    ),
    "minted for another host, Host header forged to match": lambda h, b: (
        b,
        h.token(b, h.url.replace("127.0.0.1", "localhost")),
        {"Host": h.url.split("/")[2].replace("127.0.0.1", "localhost")},
    ),
    "minted for https, delivered over http": lambda h, b: (
        b,
        h.token(b, h.url.replace("http://", "https://")),
        {"X-Forwarded-Proto": "https"},
    ),
    "minted for another path": lambda h, b: (b, h.token(b, h.url + "other/"), {}),
    "minted for the callback URL": lambda h, b: (b, h.token(b, h.url + "?django_qstash=link"), {}),
    "body changed after signing": lambda h, b: (b.replace(b"attack", b"attacK"), h.token(b), {}),
    "body truncated after signing": lambda h, b: (b[:-1], h.token(b), {}),
    "body extended after signing": lambda h, b: (b + b" ", h.token(b), {}),
    "no body claim": lambda h, b: (b, h.token(b, body=...), {}),
    "body claim of another body": lambda h, b: (b, h.token(b, body=_b64(b"{}")), {}),
    "body claim in standard base64": lambda h, b: (
        b,
        h.token(b, body=base64.b64encode(hashlib.sha256(b).digest()).decode()),
        {},
    ),
    "body claim as the hex digest": lambda h, b: (
        b,
        h.token(b, body=hashlib.sha256(b).hexdigest()),
        {},
    ),
}


def _body_whose_digest_needs_url_safe_base64(key: str) -> bytes:
    """A message whose SHA-256 in standard base64 differs from base64url (has + or /)."""
    for nonce in range(1000):
        body = message(RECORD, key, value={"attack": nonce})
        if set(base64.b64encode(hashlib.sha256(body).digest()).decode()) & {"+", "/"}:
            return body
    raise AssertionError("no such body")  # pragma: no cover


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_bad_signature_is_refused_and_nothing_runs(webhook: Webhook, attack: str):
    key = new_id("sig")
    body = _body_whose_digest_needs_url_safe_base64(key)
    sent, token, headers = ATTACKS[attack](webhook, body)
    message_id = new_id()
    if token is None:
        response = webhook.post(sent, message_id=message_id, headers=headers, sign=False)
    else:
        response = webhook.post(sent, token=token, message_id=message_id, headers=headers)
    assert_refused(response, 401, "invalid_signature")
    assert response.json()["error"]  # it says why
    assert webhook.runs(key) == 0
    assert webhook.results(message_id) == []


def test_a_host_outside_allowed_hosts_never_reaches_the_task(webhook: Webhook):
    # Django's own ALLOWED_HOSTS check answers first (400); the signature would fail anyway.
    key = new_id("sig")
    body = message(RECORD, key)
    token = webhook.token(body, "http://evil.example/qstash/webhook/")
    response = webhook.post(body, token=token, headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert webhook.runs(key) == 0


def test_the_signature_is_checked_before_the_body_is_read(webhook: Webhook):
    # Unsigned junk is a signature failure (401), never a message-format answer (489):
    # nothing about the body is examined for a request that is not from QStash.
    for body in (
        b"not json",
        b"[]",
        b'{"v": 99}',
        json.dumps({"v": 1, "task": "os.system"}).encode(),
    ):
        response = webhook.post(body, sign=False)
        assert_refused(response, 401, "invalid_signature")
        response = webhook.post(body, token=webhook.token(body, key="sig_" + "y" * 28))
        assert_refused(response, 401, "invalid_signature")


def test_the_genuine_article_runs_once_with_either_key(webhook: Webhook):
    # The control: the same server accepts what QStash really sends, with the current key
    # and (after a rotation is announced) the next one.
    for key_name in ("current_key", "next_key"):
        key = new_id("sig")
        body = message(RECORD, key)
        response = webhook.post(body, token=webhook.token(body, key=getattr(webhook, key_name)))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "success"
        assert webhook.runs(key) == 1


def test_a_padded_or_unpadded_body_claim_verifies(webhook: Webhook):
    key = new_id("sig")
    body = message(RECORD, key)
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    for claim in (digest, digest.rstrip("=")):
        response = webhook.post(body, token=webhook.token(body, body=claim))
        assert response.status_code == 200, response.text
    # Two deliveries of two messages (fresh ids), so the task ran twice: once each.
    assert webhook.runs(key) == 2


def test_a_replayed_request_runs_nothing(webhook: Webhook):
    key = new_id("sig")
    body = message(RECORD, key)
    token = webhook.token(body)
    message_id = new_id()
    first = webhook.post(body, token=token, message_id=message_id)
    assert first.status_code == 200, first.text
    assert webhook.runs(key) == 1
    # The same request byte for byte; the same token under another Upstash-Message-Id (a header
    # the signature does not cover); and with a later Upstash-Retried.
    for replay_id, retried in ((message_id, 0), (new_id(), 0), (message_id, 1), (new_id(), 3)):
        replay = webhook.post(body, token=token, message_id=replay_id, retried=retried)
        assert_refused(replay, 403, "replayed")
    # The token with another body does not verify at all.
    other = message(RECORD, key + "-other")
    assert_refused(webhook.post(other, token=token), 401, "invalid_signature")
    assert webhook.runs(key) == 1
    assert webhook.runs(key + "-other") == 0
    assert [status for status, _ in webhook.results(message_id)] == ["SUCCESS"]


def test_a_replay_without_a_message_id_header_runs_nothing(webhook: Webhook):
    key = new_id("sig")
    body = message(RECORD, key)
    token = webhook.token(body)
    headers = {"Upstash-Signature": token, "Content-Type": "application/json"}
    first = webhook.http.post(webhook.url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    again = webhook.http.post(webhook.url, content=body, headers=headers)
    assert_refused(again, 403, "replayed")
    assert webhook.runs(key) == 1
