"""The webhook's signature check against the official qstash.Receiver, token by token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qstash import Receiver
from qstash.errors import SignatureError as ReceiverError

from django_qstash import signing
from tests.support.signing import CURRENT_KEY, NEXT_KEY, make_token

URL = "https://example.com/qstash/webhook/"
BODY = b'{"v":1,"task":"app.tasks.add","args":[1,2],"kwargs":{}}'
KEYS = (CURRENT_KEY, NEXT_KEY)


def body_with_std_base64_difference() -> bytes:
    # A body whose SHA-256 has '+' or '/' in standard base64, so the two alphabets differ.
    for index in range(1000):
        body = f'{{"n":{index}}}'.encode()
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if "+" in digest or "/" in digest:
            return body
    raise AssertionError("unreachable")


STD_BODY = body_with_std_base64_difference()


def unsigned_token(claims: dict) -> str:
    def seg(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{seg({'alg': 'none', 'typ': 'JWT'})}.{seg(claims)}."


def receiver_accepts(token: str, body: bytes, url: str) -> bool:
    try:
        Receiver(CURRENT_KEY, NEXT_KEY).verify(signature=token, body=body.decode(), url=url)
    except (ReceiverError, KeyError):
        return False
    return True


def we_accept(token: str, body: bytes, url: str) -> bool:
    try:
        signing.verify(token, body, url=url, keys=KEYS, leeway=0)
    except signing.SignatureError:
        return False
    return True


def variants() -> dict[str, tuple[str, bytes, str, bool]]:
    """Built when a test runs: tokens carry times relative to now."""
    now = time.time()
    return {
        "baseline": (make_token(BODY, URL), BODY, URL, True),
        "unpadded body claim": (
            make_token(BODY, URL, body=signing.body_hash(BODY)),
            BODY,
            URL,
            True,
        ),
        "signed with the next key": (make_token(BODY, URL, key=NEXT_KEY), BODY, URL, True),
        "no iat and no jti": (make_token(BODY, URL, iat=..., jti=...), BODY, URL, True),
        "empty aud": (make_token(BODY, URL, aud=""), BODY, URL, True),
        "HS512": (make_token(BODY, URL, algorithm="HS512"), BODY, URL, False),
        "alg none": (
            unsigned_token(
                {
                    "iss": "Upstash",
                    "sub": URL,
                    "exp": now + 300,
                    "nbf": now,
                    "body": signing.body_hash(BODY),
                }
            ),
            BODY,
            URL,
            False,
        ),
        "no nbf": (make_token(BODY, URL, nbf=...), BODY, URL, False),
        "no exp": (make_token(BODY, URL, exp=...), BODY, URL, False),
        "no sub": (make_token(BODY, URL, sub=...), BODY, URL, False),
        "no iss": (make_token(BODY, URL, iss=...), BODY, URL, False),
        "non-empty aud": (make_token(BODY, URL, aud="x"), BODY, URL, False),
        "integer jti": (make_token(BODY, URL, jti=7), BODY, URL, False),
        "lower-case issuer": (make_token(BODY, URL, iss="upstash"), BODY, URL, False),
        "wrong key": (
            make_token(BODY, URL, key="sig_not_the_right_key_at_all_0123456789"),
            BODY,
            URL,
            False,
        ),
        "expired": (make_token(BODY, URL, now=now - 400), BODY, URL, False),
        "not valid yet": (make_token(BODY, URL, nbf=now + 60, iat=now), BODY, URL, False),
        "issued in the future": (make_token(BODY, URL, iat=now + 60), BODY, URL, False),
        "other URL (forged Host)": (
            make_token(BODY, "https://evil.example/qstash/webhook/"),
            BODY,
            URL,
            False,
        ),
        "body changed after signing": (make_token(BODY, URL), BODY.replace(b"1", b"9"), URL, False),
        "missing body claim": (make_token(BODY, URL, body=...), BODY, URL, False),
        "body claim in standard base64": (
            make_token(
                STD_BODY, URL, body=base64.b64encode(hashlib.sha256(STD_BODY).digest()).decode()
            ),
            STD_BODY,
            URL,
            False,
        ),
        "signature padded to a multiple of 4": (padded_signature(), BODY, URL, True),
        "signature in the standard base64 alphabet": (std_alphabet_signature(), BODY, URL, False),
        "signature with stray bits in its last character": (
            stray_bits_signature(),
            BODY,
            URL,
            False,
        ),
        "non-ASCII character in the signature": (non_ascii_signature(), BODY, URL, False),
        "non-ASCII body claim": (make_token(BODY, URL, body="\u00e9t\u00e9"), BODY, URL, False),
        "header with b64 false": (b64_false_token(now), BODY, URL, False),
        "claims with stray bits in their last character": (stray_bits_claims(), BODY, URL, False),
        "garbage": ("not-a-jwt", BODY, URL, False),
        "two segments": ("a.b", BODY, URL, False),
    }


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _split(token: str) -> tuple[str, str, str]:
    header, payload, signature = token.split(".")
    return header, payload, signature


def padded_signature() -> str:
    header, payload, signature = _split(make_token(BODY, URL))
    assert len(signature) == 43  # 32 bytes: one '=' makes it a multiple of 4
    return f"{header}.{payload}.{signature}="


def std_alphabet_signature() -> str:
    for index in range(500):
        header, payload, signature = _split(make_token(BODY, URL, jti=f"jwt_{index}"))
        if "-" in signature or "_" in signature:
            standard = signature.replace("-", "+").replace("_", "/")
            return f"{header}.{payload}.{standard}"
    raise AssertionError("unreachable")


def stray_bits_signature() -> str:
    # The last of 43 characters carries 2 unused bits: setting one decodes to the same MAC.
    header, payload, signature = _split(make_token(BODY, URL))
    last = _ALPHABET.index(signature[-1])
    return (
        f"{header}.{payload}.{signature[:-1]}{_ALPHABET[last | 1 if last & 3 == 0 else last & ~3]}"
    )


def non_ascii_signature() -> str:
    header, payload, signature = _split(make_token(BODY, URL))
    return f"{header}.{payload}.{signature[:20]}\u00e9{signature[21:]}"


def stray_bits_claims() -> str:
    # Signed with the right key over a payload segment that is not canonical base64url.
    for index in range(50):
        header, payload, _ = _split(make_token(BODY, URL, jti=f"jwt_{'x' * index}"))
        if len(payload) % 4 == 2:  # its last character carries 4 unused bits
            last = _ALPHABET.index(payload[-1])
            payload = payload[:-1] + _ALPHABET[last | 1]
            mac = hmac.new(CURRENT_KEY.encode(), f"{header}.{payload}".encode(), "sha256")
            signature = base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")
            return f"{header}.{payload}.{signature}"
    raise AssertionError("unreachable")


def b64_false_token(now: float) -> str:
    claims = {"iss": "Upstash", "sub": URL, "exp": int(now) + 300, "nbf": int(now)}
    claims["body"] = signing.body_hash(BODY)
    return jwt.encode(claims, CURRENT_KEY, algorithm="HS256", headers={"b64": False})


@pytest.mark.parametrize("name", list(variants()))
def test_we_agree_with_the_official_receiver(name):
    token, body, url, expected = variants()[name]
    assert receiver_accepts(token, body, url) is expected
    assert we_accept(token, body, url) is expected


def test_missing_signature_is_refused():
    with pytest.raises(signing.SignatureError, match="missing Upstash-Signature"):
        signing.verify(None, BODY, url=URL, keys=KEYS)
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify("", BODY, url=URL, keys=KEYS)


def test_clock_tolerance_accepts_a_small_skew_only():
    future = time.time() + 3
    token = make_token(BODY, URL, now=future)
    signing.verify(token, BODY, url=URL, keys=KEYS, leeway=5)
    with pytest.raises(signing.SignatureError, match="not valid yet"):
        signing.verify(token, BODY, url=URL, keys=KEYS, leeway=0)
    old = make_token(BODY, URL, now=time.time() - 302)
    signing.verify(old, BODY, url=URL, keys=KEYS, leeway=5)
    with pytest.raises(signing.SignatureError, match="expired"):
        signing.verify(old, BODY, url=URL, keys=KEYS, leeway=0)


def test_claims_are_returned_for_replay_protection():
    token = make_token(BODY, URL, jti="jwt_abc")
    claims = signing.verify(token, BODY, url=URL, keys=KEYS)
    assert claims["jti"] == "jwt_abc"
    assert claims["exp"] > time.time()


def test_non_utf8_bodies_can_be_verified():
    body = b"\xff\xfe\x00binary"
    signing.verify(make_token(body, URL), body, url=URL, keys=KEYS)


def test_a_missing_next_key_is_skipped():
    token = make_token(BODY, URL)
    signing.verify(token, BODY, url=URL, keys=(CURRENT_KEY, None))


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=200).filter(lambda b: _is_utf8(b)),
    offset=st.integers(min_value=-600, max_value=600),
    key=st.sampled_from([CURRENT_KEY, NEXT_KEY, "sig_someone_elses_key_0123456789"]),
    url=st.sampled_from([URL, URL + "x", "http://example.com/qstash/webhook/"]),
    tamper=st.booleans(),
)
def test_agreement_on_random_tokens(body, offset, key, url, tamper):
    token = make_token(body, url, key=key, now=time.time() + offset)
    delivered = body + b"!" if tamper else body
    # Away from the exact clock boundaries, the two verifiers must agree.
    if abs(offset) in range(0, 3) or abs(offset + 300) < 3:
        return
    assert we_accept(token, delivered, URL) is receiver_accepts(token, delivered, URL)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def test_pyjwt_decodes_what_we_accept():
    token = make_token(BODY, URL)
    claims = jwt.decode(token, CURRENT_KEY, algorithms=["HS256"], issuer="Upstash")
    assert claims == signing.verify(token, BODY, url=URL, keys=KEYS)
