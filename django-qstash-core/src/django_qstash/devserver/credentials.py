"""The official dev server's public, deterministic test users.

They are documented by Upstash and hard-coded in the JS SDK's dev mode, so defaulting to user 1
makes guides written for ``qstash dev`` (and the JS SDK's ``QSTASH_DEV=true``) work unchanged.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Credentials:
    token: str
    current_signing_key: str
    next_signing_key: str


DEV_USERS: tuple[Credentials, ...] = (
    Credentials(
        "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=",
        "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    ),
    Credentials(
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjEiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_7GVPjvuwsfqF65iC8fSrs1dfYruM",
        "sig_5NoELc3EFnZn4DVS5bDs2Nk4b7Ua",
    ),
    Credentials(
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjIiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_6jWGaWRxHsw4vMSPJprXadyvrybF",
        "sig_7qHbvhmahe5GwfePDiS5Lg3pi6Qx",
    ),
    Credentials(
        "eyJVc2VySUQiOiJ0ZXN0VXNlcjMiLCJQYXNzd29yZCI6InRlc3RQYXNzd29yZCJ9",
        "sig_5T8FcSsynBjn9mMLBsXhpacRovJf",
        "sig_7GFR4YaDshFcqsxWRZpRB161jguD",
    ),
)

DEFAULT_CREDENTIALS = DEV_USERS[0]


def random_base58(length: int) -> str:
    # One urandom call per id (secrets.choice per character costs a syscall each). The modulo
    # bias (256 % 58) is irrelevant for ids and harmless for 28-character dev keys.
    return "".join(_BASE58[byte % 58] for byte in secrets.token_bytes(length))


def new_signing_key() -> str:
    # 32 characters like the real keys: PyJWT warns about shorter HS256 keys.
    return "sig_" + random_base58(28)
