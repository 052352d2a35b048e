"""Verify the ``Upstash-Signature`` JWT of a delivery.

The rules are those of the official Python ``qstash.Receiver`` (QSTASH-PROTOCOL.md §4.2), checked
with the standard library: HS256 only, ``iss == "Upstash"``, ``sub`` equal to the webhook URL built
from settings, ``exp`` and ``nbf`` required, ``iat`` not in the future, no non-empty ``aud``, a
string ``jti``, and the base64url SHA-256 of the raw body bytes in ``body`` (padding ignored).
Unlike the Receiver it honours a clock tolerance, hashes bytes (so any body can be verified) and
reports one clear reason. The test-suite checks it against the Receiver token by token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any


class SignatureError(Exception):
    """The signature is missing or does not verify; ``reason`` says why."""


# Every QStash token starts with the same header; remember the ones already checked.
_ACCEPTED_HEADERS: set[str] = set()


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def body_hash(body: bytes) -> str:
    """The ``body`` claim QStash puts in a token: base64url SHA-256, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")


def verify(
    token: str | None,
    body: bytes,
    *,
    url: str,
    keys: Iterable[str | None],
    leeway: float = 0,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the token's claims if it is a valid QStash signature for ``body`` sent to ``url``."""
    if not token:
        raise SignatureError("missing Upstash-Signature header")
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        signature = _b64url_decode(signature_b64)
        if header_b64 not in _ACCEPTED_HEADERS:
            header = json.loads(_b64url_decode(header_b64))
            if not isinstance(header, dict) or header.get("alg") != "HS256":
                raise SignatureError("the signature must use the HS256 algorithm")
            if len(_ACCEPTED_HEADERS) < 16:
                _ACCEPTED_HEADERS.add(header_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureError("the signature is not a well-formed JWT") from None

    signing_input = f"{header_b64}.{payload_b64}".encode()
    for key in keys:
        if key and hmac.compare_digest(
            hmac.digest(key.encode(), signing_input, "sha256"), signature
        ):
            break
    else:
        raise SignatureError("the signature does not match the current or the next signing key")

    try:
        claims = json.loads(_b64url_decode(payload_b64).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise SignatureError("the signature's claims are not valid JSON") from None
    if not isinstance(claims, dict):
        raise SignatureError("the signature's claims are not a JSON object")
    _check_claims(claims, body, url, leeway, time.time() if now is None else now)
    return claims


_NUMBER_TYPES = (int, float)  # exactly: a bool is not a time


def _check_claims(claims: dict[str, Any], body: bytes, url: str, leeway: float, now: float) -> None:
    for name in ("iss", "sub", "exp", "nbf"):
        if name not in claims:
            raise SignatureError(f"the signature has no {name!r} claim")
    if claims["iss"] != "Upstash":
        raise SignatureError("the signature was not issued by Upstash")
    exp, nbf, iat = claims["exp"], claims["nbf"], claims.get("iat", 0)
    if type(exp) not in _NUMBER_TYPES or type(nbf) not in _NUMBER_TYPES:
        raise SignatureError("the 'exp' and 'nbf' claims must be numbers")
    if type(iat) not in _NUMBER_TYPES:
        raise SignatureError("the 'iat' claim must be a number")
    if exp <= now - leeway:
        raise SignatureError("the signature has expired")
    if nbf > now + leeway:
        raise SignatureError("the signature is not valid yet (nbf)")
    if iat > now + leeway:
        raise SignatureError("the signature was issued in the future (iat)")
    if claims.get("aud"):
        raise SignatureError("the signature carries an audience this webhook does not accept")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise SignatureError("the 'jti' claim must be a string")
    if claims["sub"] != url:
        raise SignatureError("the signature was made for another URL than this webhook")
    claimed = claims.get("body")
    if not isinstance(claimed, str):
        raise SignatureError("the signature has no 'body' claim")
    if not hmac.compare_digest(claimed.rstrip("="), body_hash(body)):
        raise SignatureError("the body does not match the signature (it was changed or truncated)")
