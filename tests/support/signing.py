"""Make QStash signatures the way QStash makes them: PyJWT, HS256, the claims docs/qstash-protocol.md lists."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest

CURRENT_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
NEXT_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


def body_claim(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()


def make_token(
    body: bytes,
    url: str,
    /,
    *,
    key: str = CURRENT_KEY,
    now: float | None = None,
    algorithm: str = "HS256",
    **overrides: Any,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": "Upstash",
        "sub": url,
        "exp": issued + 300,
        "nbf": issued,
        "iat": issued,
        "jti": f"jwt_{uuid.uuid4().hex}",
        "body": body_claim(body),
    }
    for name, value in overrides.items():
        if value is ...:
            claims.pop(name, None)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.fixture
def sign() -> Callable[..., str]:
    """``sign(body, url, **claim_overrides)``; pass ``claim=...`` (Ellipsis) to drop a claim."""
    return make_token
