"""Turning the automatic push off for a block of code (adopting a QStash schedule, say)."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_suspended: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "django_qstash_schedules_sync_suspended", default=False
)


@contextlib.contextmanager
def sync_suspended() -> Iterator[None]:
    """Within this block, saves and deletes of schedules are not pushed to QStash."""
    token = _suspended.set(True)
    try:
        yield
    finally:
        _suspended.reset(token)


def is_suspended() -> bool:
    return _suspended.get()
