"""Identifiers in the shapes real QStash uses (``msg_...``, ``scd_...``, Redis-stream DLQ ids)."""

from __future__ import annotations

import itertools
import threading
import time

from django_qstash.devserver.credentials import random_base58

_dlq_lock = threading.Lock()
_dlq_counter = itertools.count()


def message_id() -> str:
    return "msg_" + random_base58(32)


def schedule_id() -> str:
    return "scd_" + random_base58(28)


def token_id() -> str:
    # PyJWT >= 2.10 rejects a non-string ``jti``, so it is always a string.
    return "jwt_" + random_base58(28)


def dlq_id() -> str:
    """``<unix ms>-<n>``, like the Redis stream ids real DLQ entries carry."""
    with _dlq_lock:
        return f"{int(time.time() * 1000)}-{next(_dlq_counter)}"
