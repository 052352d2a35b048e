"""When a PENDING message is due: asked of QStash (the row does not know its countdown).

Lookups are cached briefly and capped per page, so a list of many pending rows stays fast; a
message QStash no longer holds (delivered, cancelled) or an unreachable QStash gives ``None``.
"""

from __future__ import annotations

import contextvars
import datetime
import time

from django_qstash import hooks

CACHE_SECONDS = 30.0
CACHE_SIZE = 1000
#: QStash lookups per admin page; further pending rows show no due time.
LOOKUPS_PER_PAGE = 10

_cache: dict[str, tuple[float, datetime.datetime | None]] = {}
_budget: contextvars.ContextVar[int | None] = contextvars.ContextVar("dqr_due_budget", default=None)


def start_page() -> contextvars.Token[int | None]:
    """Allow :data:`LOOKUPS_PER_PAGE` lookups for the page being rendered."""
    return _budget.set(LOOKUPS_PER_PAGE)


def end_page(token: contextvars.Token[int | None]) -> None:
    _budget.reset(token)


def due_time(task_id: str) -> datetime.datetime | None:
    """The message's ``notBefore`` from QStash, or ``None`` when unknown."""
    now = time.monotonic()
    hit = _cache.get(task_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    budget = _budget.get()
    if budget is not None:
        if budget <= 0:
            return None
        _budget.set(budget - 1)
    try:
        message = hooks.get_qstash_client().message.get(task_id)
        due = datetime.datetime.fromtimestamp(message.not_before / 1000, tz=datetime.timezone.utc)
    except Exception:  # gone from QStash, or QStash unreachable: just not shown
        due = None
    if len(_cache) >= CACHE_SIZE:
        _cache.clear()
    _cache[task_id] = (now + CACHE_SECONDS, due)
    return due
