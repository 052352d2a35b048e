"""Task options: what the decorator and ``apply_async`` accept, and how they map onto QStash."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

#: QStash delivery options, accepted on the decorator and per call.
PUBLISH_OPTIONS = frozenset(
    {
        "max_retries",  # Upstash-Retries
        "timeout",  # Upstash-Timeout (seconds or "30s")
        "queue",  # enqueue to a QStash queue
        "deduplication_id",
        "content_based_deduplication",
        "retry_delay",  # Upstash-Retry-Delay expression (milliseconds, uses `retried`)
        "callback",
        "failure_callback",
        "headers",  # extra headers forwarded to the webhook
        "label",
        "flow_control",
    }
)

#: Celery options with a meaning here (handled by the task runtime).
CELERY_OPTIONS = frozenset(
    {
        "bind",
        "autoretry_for",
        "dont_autoretry_for",
        "retry_kwargs",
        "retry_backoff",
        "retry_backoff_max",
        "retry_jitter",
        "default_retry_delay",
        "ignore_result",
        "time_limit",
        "soft_time_limit",
        "acks_late",
        "rate_limit",
        "serializer",
        "priority",
        "expires",
        "track_started",
        "throws",
        "typing",
        "base",
        "compression",
        "store_errors_even_if_ignored",
        "reject_on_worker_lost",
        "acks_on_failure_or_timeout",
    }
)

DECORATOR_OPTIONS = PUBLISH_OPTIONS | CELERY_OPTIONS | {"name"}

#: Per-call options of ``apply_async`` besides ``args``/``kwargs``.
CALL_OPTIONS = PUBLISH_OPTIONS | {
    "countdown",
    "eta",
    "expires",
    "task_id",
    "link",
    "link_error",
    "shadow",
    "ignore_result",
    "time_limit",
    "soft_time_limit",
    "priority",
    "serializer",
    "compression",
    "retry",
    "retry_policy",
    "exchange",
    "routing_key",
    "add_to_parent",
    "producer",
    "connection",
}


def check_decorator_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - DECORATOR_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown task option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(DECORATOR_OPTIONS))}."
        )


def delay_seconds(countdown: float | int | None, eta: datetime.datetime | None) -> int | None:
    """Seconds to wait before delivery, from Celery's ``countdown`` or ``eta``.

    A fractional countdown rounds up (QStash counts whole seconds); 0 or a past eta means now.
    A naive eta is read in the project's TIME_ZONE.
    """
    if countdown is not None and eta is not None:
        raise TypeError("give countdown or eta, not both")
    if countdown is not None:
        if isinstance(countdown, bool) or not isinstance(countdown, (int, float)):
            raise TypeError(f"countdown must be a number of seconds, not {countdown!r}")
        if countdown < 0 or math.isnan(countdown):
            raise ValueError(f"countdown must not be negative, got {countdown!r}")
        seconds = math.ceil(countdown)
        return seconds or None
    if eta is not None:
        if not isinstance(eta, datetime.datetime):
            raise TypeError(f"eta must be a datetime, not {type(eta).__name__}")
        if timezone.is_naive(eta):
            eta = timezone.make_aware(eta, timezone.get_default_timezone())
        seconds = math.ceil((eta - timezone.now()).total_seconds())
        return seconds if seconds > 0 else None
    return None


def duration(value: int | float | str | datetime.timedelta) -> str:
    """A QStash duration header value ("30s") from seconds, a timedelta or a string."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, str):
        return value
    return f"{math.ceil(value)}s"
