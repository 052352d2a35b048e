"""Times and durations: Celery's ``countdown``/``eta``/``expires`` and QStash's durations.

One parser (:func:`duration_seconds`) reads every duration a task, a schedule, a setting or a
backend option may hold.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

from django.utils import timezone


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


# A pattern, not a compiled one: ``re`` compiles it on first use (and caches it), not at import.
_DURATION = r"^\s*(\d+(?:\.\d+)?)\s*(ms|[smhd]?)\s*$"
_UNIT_SECONDS = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: int | float | str | datetime.timedelta) -> str:
    """A QStash duration header value ("30s") from seconds, a timedelta or a string."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, str):
        return value
    return f"{math.ceil(value)}s"


def duration_seconds(value: Any) -> float:
    """Seconds from a number, a timedelta or a duration string ("30", "30s", "2m", "1h", "1d").

    Raises ValueError (TypeError for a type that is no duration at all) saying what was given;
    the one parser behind every duration option and setting.
    """
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool):
        raise TypeError(f"a duration must be seconds or a string such as '30s', not {value!r}")
    if isinstance(value, (int, float)):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"a duration must be a finite number of seconds, not {value!r}")
        return float(value)
    if isinstance(value, str):
        match = re.match(_DURATION, value)
        if match is None:
            raise ValueError(
                f"a duration must be seconds or look like '30s', '2m', '1h', '1d', not {value!r}"
            )
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise TypeError(
        f"a duration must be seconds, a timedelta or a string such as '30s', not "
        f"{type(value).__name__}"
    )


def whole_seconds(value: Any) -> int | None:
    """A duration as whole seconds (rounded up, at least 1), or None when it cannot be read."""
    try:
        seconds = duration_seconds(value)
    except (TypeError, ValueError):
        return None
    return max(1, math.ceil(seconds))
