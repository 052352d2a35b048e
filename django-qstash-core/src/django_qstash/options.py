"""Task options: what the decorator and ``apply_async`` accept, and how they map onto QStash.

See ``docs/celery.md`` for the table of every Celery option and what becomes of it.
"""

from __future__ import annotations

import datetime
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from django_qstash.exceptions import IgnoredOptionWarning

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
        "headers",  # extra headers forwarded to the webhook (and self.request.headers)
        "label",
        "flow_control",
    }
)

#: Per-call publish options a retry republishes with (the message must go where it went).
CARRIED_PUBLISH_OPTIONS = (
    "queue",
    "timeout",
    "retry_delay",
    "label",
    "flow_control",
    "callback",
    "failure_callback",
)

#: Celery options with a meaning here (handled by the task runtime), or warned about.
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

#: Options ``apply_async`` keeps in the message itself (``Envelope.options``).
MESSAGE_OPTIONS = frozenset(
    {
        "task_id",
        "retries",
        "root_id",
        "parent_id",
        "group_id",
        "expires",
        "link",
        "link_error",
        "shadow",
        "ignore_result",
    }
)

#: Per-call options of ``apply_async`` besides ``args``/``kwargs``.
CALL_OPTIONS = (
    PUBLISH_OPTIONS
    | MESSAGE_OPTIONS
    | {
        "countdown",
        "eta",
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
        "throw",
    }
)

# ------------------------------------------------------------------------------ ignored options

_NO_SOFT_LIMIT = (
    "QStash has a single, hard timeout (time_limit maps to Upstash-Timeout); nothing raises "
    "SoftTimeLimitExceeded inside the task"
)
_IGNORED: dict[str, str] = {
    "soft_time_limit": _NO_SOFT_LIMIT,
    "priority": "QStash has no message priorities (use a queue= to order work instead)",
    "compression": "messages travel as plain JSON",
    "reject_on_worker_lost": (
        "there is no worker: a delivery that gets no answer is retried by QStash"
    ),
    "acks_on_failure_or_timeout": (
        "QStash retries a failed delivery until its retries run out (set max_retries=0 not to "
        "retry)"
    ),
    "exchange": "QStash has no exchanges; use queue=",
    "routing_key": "QStash has no routing keys; use queue=",
    "retry": "publishing retries are set by DJANGO_QSTASH_PUBLISH_RETRIES",
    "retry_policy": "publishing retries are set by DJANGO_QSTASH_PUBLISH_RETRIES",
    "producer": "publishing goes through django-qstash's shared QStash client",
    "connection": "publishing goes through django-qstash's shared QStash client",
    "add_to_parent": "results do not track parent/child relations",
}

_warned: set[tuple[str, str]] = set()


def ignored_reason(option: str, value: Any) -> str | None:
    """Why ``option=value`` has no effect here, or ``None`` when it is honoured."""
    if option == "acks_late":
        return (
            None
            if value or value is None
            else (
                "QStash always acknowledges late: a message counts as delivered only once the "
                "webhook answered 2xx"
            )
        )
    if option == "serializer":
        return None if value in (None, "json") else "messages are always JSON"
    if option == "typing":
        return None if value or value is None else "arguments are always checked at call time"
    if option in ("priority", "soft_time_limit") and value is None:
        return None
    return _IGNORED.get(option)


def warn_ignored(task_name: str, option: str, value: Any, *, stacklevel: int = 3) -> None:
    """Warn, once per task and option, that a Celery option has no effect here."""
    reason = ignored_reason(option, value)
    if reason is None or (task_name, option) in _warned:
        return
    _warned.add((task_name, option))
    warnings.warn(
        f"{task_name}: Celery option {option}={value!r} has no effect with django-qstash: "
        f"{reason}.",
        IgnoredOptionWarning,
        stacklevel=stacklevel,
    )


def check_decorator_options(options: Mapping[str, Any]) -> None:
    unknown = sorted(set(options) - DECORATOR_OPTIONS)
    if unknown:
        raise TypeError(
            f"unknown task option{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Known options: {', '.join(sorted(DECORATOR_OPTIONS))}."
        )


# ------------------------------------------------------------------------------ times


def delay_seconds(countdown: float | int | None, eta: datetime.datetime | str | None) -> int | None:
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
        seconds = math.ceil((aware(eta, "eta") - timezone.now()).total_seconds())
        return seconds if seconds > 0 else None
    return None


def aware(value: datetime.datetime | str, name: str) -> datetime.datetime:
    """An aware datetime from a datetime or an ISO 8601 string (naive: the project's zone)."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} must be an ISO 8601 date and time, not {value!r}") from None
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"{name} must be a datetime, not {type(value).__name__}")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def expiry(value: Any) -> str:
    """Celery's ``expires`` (seconds from now, a timedelta, a datetime or an ISO 8601 string) as
    an absolute ISO 8601 UTC time."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = timezone.now() + datetime.timedelta(seconds=value)
    elif isinstance(value, datetime.timedelta):
        moment = timezone.now() + value
    else:
        moment = aware(value, "expires")
    return moment.astimezone(datetime.timezone.utc).isoformat()


def eta_after(seconds: int) -> str:
    """``self.request.eta``: when a message delayed by ``seconds`` is due (ISO 8601 UTC)."""
    return (timezone.now() + datetime.timedelta(seconds=seconds)).isoformat()


def has_expired(expires: Any, now: float) -> bool:
    """True when an ``expires`` time carried by a message is in the past."""
    try:
        return datetime.datetime.fromisoformat(str(expires)).timestamp() <= now
    except ValueError:
        return False


def duration(value: int | float | str | datetime.timedelta) -> str:
    """A QStash duration header value ("30s") from seconds, a timedelta or a string."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, str):
        return value
    return f"{math.ceil(value)}s"


# ------------------------------------------------------------------------------ rate limits

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*$")
_NEXT_PERIOD = {"s": ("m", 60), "m": ("h", 60)}


def flow_control_for(task_name: str, rate_limit: int | float | str) -> dict[str, Any]:
    """Celery's ``rate_limit`` ("10/m", "2/s", 5) as QStash flow control keyed by task name.

    Celery limits each worker; QStash limits the key across every delivery, which is what a
    rate limit on a third-party API usually needs. A fractional rate moves to a longer period
    ("0.5/s" is 30 per minute).
    """
    match = _RATE.match(str(rate_limit))
    if match is None or isinstance(rate_limit, bool):
        raise ValueError(
            f"rate_limit must look like '10/m', '2/s', '100/h' or a number per second, not "
            f"{rate_limit!r}"
        )
    rate, unit = float(match.group(1)), match.group(2) or "s"
    if rate <= 0:
        raise ValueError(f"rate_limit must be positive, got {rate_limit!r}")
    while rate != int(rate) and unit in _NEXT_PERIOD:
        unit, factor = _NEXT_PERIOD[unit]
        rate *= factor
    return {"key": task_name, "rate": max(1, math.ceil(rate)), "period": f"1{unit}"}


# ------------------------------------------------------------------------------ retries


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


@dataclass(frozen=True)
class RetryPolicy:
    """Celery's automatic retry options, and the QStash retry they become.

    An exception listed in ``autoretry_for`` (and not in ``dont_autoretry_for``) is answered
    with a retryable 500, so QStash delivers the same message again after the
    ``Upstash-Retry-Delay`` this policy computes; any other exception is final.
    """

    autoretry_for: tuple[type[BaseException], ...] = ()
    dont_autoretry_for: tuple[type[BaseException], ...] = ()
    #: Retries allowed (``retry_kwargs["max_retries"]`` over ``max_retries``); None: no limit.
    max_retries: int | None = 3
    #: Seconds: the backoff factor (``retry_backoff=True`` is 1), 0 when off.
    backoff: float = 0
    backoff_max: float = 600
    jitter: bool = True
    #: Seconds between retries without backoff (retry_kwargs countdown, else default_retry_delay).
    countdown: float = 180

    @property
    def enabled(self) -> bool:
        return bool(self.autoretry_for)

    def matches(self, exc: BaseException) -> bool:
        return isinstance(exc, self.autoretry_for) and not isinstance(exc, self.dont_autoretry_for)

    @property
    def jittered(self) -> bool:
        return bool(self.backoff) and self.jitter

    def delay_expression(self, *, offset: int = 0, jitter: float | None = None) -> str:
        """``Upstash-Retry-Delay`` (milliseconds; ``retried`` is 0 before the first retry).

        QStash's expressions have no random function, so jitter is a factor drawn once per
        message (``jitter``, 0..1) rather than once per retry; ``offset`` counts the retries
        done before this message was published (by ``self.retry()``).
        """
        if not self.backoff:
            return str(_ms(self.countdown))
        retried = f"(retried + {offset})" if offset else "retried"
        expression = f"min({_ms(self.backoff_max)}, {_ms(self.backoff)} * pow(2, {retried}))"
        if jitter is not None:
            expression = f"floor({jitter:.4f} * {expression})"
        return expression


def retry_policy(options: Mapping[str, Any], max_retries: int | None) -> RetryPolicy:
    """The task's :class:`RetryPolicy` from its decorator options (Celery's names/defaults)."""
    retry_kwargs = dict(options.get("retry_kwargs") or {})
    backoff = options.get("retry_backoff", False)
    countdown = retry_kwargs.get("countdown", options.get("default_retry_delay", 180))
    return RetryPolicy(
        autoretry_for=tuple(options.get("autoretry_for") or ()),
        dont_autoretry_for=tuple(options.get("dont_autoretry_for") or ()),
        max_retries=retry_kwargs.get("max_retries", max_retries),
        backoff=float(int(backoff) if isinstance(backoff, bool) else backoff),
        backoff_max=float(options.get("retry_backoff_max", 600)),
        jitter=bool(options.get("retry_jitter", True)),
        countdown=float(countdown or 0),
    )
