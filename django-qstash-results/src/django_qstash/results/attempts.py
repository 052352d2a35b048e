"""The attempts history of a result: each failed attempt's error, kept on the row.

A row holds the latest attempt's outcome; without this a task that succeeded on its third
attempt would keep no trace of the two errors before. The outcome writes call
:func:`with_attempt_error` while the delivery holds its claim, so no other delivery of the same
message writes the row between the read and the write.
"""

from __future__ import annotations

from typing import Any

from django.db import router
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.models import TaskResult

#: Errors kept per row (the oldest are dropped): a message retried hundreds of times stays small.
MAX_KEPT = 20
#: Characters kept of each error message.
MAX_MESSAGE = 500


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _message(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a broken __str__ must not lose the outcome
        text = f"<unprintable {type(exc).__name__}>"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def with_attempt_error(delivery: hooks.Delivery, exc: BaseException | None) -> list[dict[str, Any]]:
    """The row's attempts history with this attempt's error added (replacing an entry of the
    same attempt, so a write that is tried again adds nothing twice)."""
    using = router.db_for_read(TaskResult)
    stored = (
        TaskResult.objects.using(using)
        .filter(task_id=delivery.message_id)
        .values_list("attempt_errors", flat=True)
        .first()
    )
    history = [e for e in (stored or []) if e.get("attempt") != delivery.attempt]
    history.append(
        {
            "attempt": delivery.attempt,
            "at": timezone.now().isoformat(timespec="seconds"),
            "type": _dotted(type(exc)) if exc is not None else "",
            "message": _message(exc) if exc is not None else "",
        }
    )
    return history[-MAX_KEPT:]
