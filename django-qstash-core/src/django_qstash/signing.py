"""Verify the ``Upstash-Signature`` JWT of a delivery.

The rules are those of the official Python ``qstash.Receiver`` (see ``docs/qstash-protocol.md``,
"Signatures"), checked with the standard library: HS256 only, ``iss == "Upstash"``, ``sub``
equal to the webhook URL built from settings, ``exp`` and ``nbf`` required, ``iat`` not in the
future, no non-empty ``aud``, a string ``jti``, and the base64url SHA-256 of the raw body bytes
in ``body`` (padding ignored).
Unlike the Receiver it honours a clock tolerance, hashes bytes (so any body can be verified) and
reports one clear reason. The test-suite checks it against the Receiver token by token.
"""

from __future__ import annotations

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

# A keyed HMAC-SHA256 per signing key, copied for each token: copying the keyed state costs less
# than keying a new one (this check runs on every delivery).
_KEYED_MACS: dict[str, hmac.HMAC] = {}

_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_STANDARD_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64url_encode(data: bytes) -> bytes:
    """Base64url without padding: the one canonical form of ``data``."""
    return binascii.b2a_base64(data, newline=False).rstrip(b"=").translate(_STANDARD_TO_URLSAFE)


def _unpadded(segment: str) -> bytes:
    # As PyJWT: up to two trailing '=', and only on a segment whose length is a multiple of 4.
    stripped = segment.rstrip("=")
    padding = len(segment) - len(stripped)
    if padding and (padding > 2 or len(segment) % 4):
        raise ValueError("bad base64url padding")
    return stripped.encode("ascii")


def _b64url_decode(segment: str) -> bytes:
    """Strict base64url, as PyJWT decodes a token: only the canonical encoding of some bytes."""
    stripped = _unpadded(segment)
    data = binascii.a2b_base64(
        stripped.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(stripped) % 4)
    )
    # Re-encoding refuses what a2b_base64 lets pass: characters outside the alphabet (which it
    # skips), the standard alphabet's '+' and '/', and stray bits in the last character.
    if _b64url_encode(data) != stripped:
        raise ValueError("not canonical base64url")
    return data


def _mac(key: str, message: bytes) -> bytes:
    keyed = _KEYED_MACS.get(key)
    if keyed is None:
        if len(_KEYED_MACS) >= 8:  # keys rotate rarely; never let old ones pile up
            _KEYED_MACS.clear()
        keyed = _KEYED_MACS[key] = hmac.new(key.encode(), digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(message)
    return mac.digest()


def _body_hash(body: bytes) -> bytes:
    return _b64url_encode(hashlib.sha256(body).digest())


def body_hash(body: bytes) -> str:
    """The ``body`` claim QStash puts in a token: base64url SHA-256, without padding."""
    return _body_hash(body).decode()


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
        # Compared in its encoded form: equal to the canonical encoding of the expected MAC is
        # exactly what PyJWT's strict decoding followed by a comparison accepts.
        signature = _unpadded(signature_b64)
        if header_b64 not in _ACCEPTED_HEADERS:
            _check_header(header_b64)
    except (ValueError, binascii.Error, RecursionError):
        raise SignatureError("the signature is not a well-formed JWT") from None

    signing_input = f"{header_b64}.{payload_b64}".encode()
    for key in keys:
        if key and hmac.compare_digest(_b64url_encode(_mac(key, signing_input)), signature):
            break
    else:
        raise SignatureError("the signature does not match the current or the next signing key")

    try:
        claims = json.loads(_b64url_decode(payload_b64).decode())
    except (ValueError, binascii.Error, RecursionError):
        raise SignatureError("the signature's claims are not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise SignatureError("the signature's claims are not a JSON object")
    _check_claims(claims, body, url, leeway, time.time() if now is None else now)
    return claims


def _check_header(header_b64: str) -> None:
    header = json.loads(_b64url_decode(header_b64))
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise SignatureError("the signature must use the HS256 algorithm")
    if header.get("b64", True) is False:
        # RFC 7797's unencoded payload: not how QStash signs, and PyJWT refuses it too.
        raise SignatureError("the signature's header sets 'b64'; QStash never does")
    if len(_ACCEPTED_HEADERS) < 16:
        _ACCEPTED_HEADERS.add(header_b64)


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
        # The token's HMAC is already verified: its "sub" is what QStash signed, safe to show.
        signed_for = str(claims["sub"])[:300]
        raise SignatureError(
            f"the signature was made for another URL ({signed_for!r}) than this webhook "
            f"({url!r}, built from DJANGO_QSTASH_DOMAIN + DJANGO_QSTASH_WEBHOOK_PATH)"
        )
    claimed = claims.get("body")
    if not isinstance(claimed, str):
        raise SignatureError("the signature has no 'body' claim")
    # Compared as bytes: compare_digest refuses str with non-ASCII characters.
    if not hmac.compare_digest(claimed.rstrip("=").encode(), _body_hash(body)):
        raise SignatureError("the body does not match the signature (it was changed or truncated)")
