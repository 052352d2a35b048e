"""Mint the ``Upstash-Signature`` JWT of one delivery attempt (see ``docs/devserver.md``).

The recipe satisfies the Python, JS and Go receivers alike: HS256 keyed by the key string's
UTF-8 bytes; ``iss``, ``sub``, ``exp = now + 300``, ``nbf = iat = now``, a string ``jti`` and the
padded base64url SHA-256 of the body; no ``aud``. ``iat``/``nbf`` are never ahead of now, because
the Python Receiver ignores its clock tolerance.
"""

from __future__ import annotations

import base64
import hashlib
import time

import jwt

from django_qstash.devserver import ids

TOKEN_LIFETIME = 300


def body_claim(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


def sign(body: bytes, url: str, key: str, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": "Upstash",
        "sub": url,
        "exp": issued + TOKEN_LIFETIME,
        "nbf": issued,
        "iat": issued,
        "jti": ids.token_id(),
        "body": body_claim(body),
    }
    return jwt.encode(claims, key, algorithm="HS256")
