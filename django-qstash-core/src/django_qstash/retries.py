"""Celery's retry and rate-limit options, and the QStash retries and flow control they become."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

_RATE = r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*$"  # compiled (and cached) by re on first use
_NEXT_PERIOD = {"s": ("m", 60), "m": ("h", 60)}


def flow_control_for(task_name: str, rate_limit: int | float | str) -> dict[str, Any]:
    """Celery's ``rate_limit`` ("10/m", "2/s", 5) as QStash flow control keyed by task name.

    Celery limits each worker; QStash limits the key across every delivery, which is what a
    rate limit on a third-party API usually needs. A fractional rate moves to a longer period
    ("0.5/s" is 30 per minute).
    """
    match = re.match(_RATE, str(rate_limit))
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


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define
# when Django sets up (this module is imported then).
class RetryPolicy(NamedTuple):
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
