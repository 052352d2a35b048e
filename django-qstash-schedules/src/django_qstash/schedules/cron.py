"""Cron expressions as QStash reads them: five fields, UTC unless a ``CRON_TZ=<zone>`` prefix.

Validation here is stricter than croniter's: QStash takes a plain five-field crontab (minute,
hour, day of month, month, day of week; numbers, ``*``, ``,``, ``-``, ``/`` and English month and
weekday names), so croniter's extensions (seconds, ``@daily``, ``L``, ``#``, ``H``) are refused
before they reach QStash, with an error that names the field.
"""

from __future__ import annotations

import datetime
import functools
import re
import zoneinfo
from typing import NamedTuple

from django.core.exceptions import ValidationError

FIELDS = ("minute", "hour", "day of month", "month", "day of week")
RANGES = ("0-59", "0-23", "1-31", "1-12 or JAN-DEC", "0-7 or SUN-SAT")
_NAMES = {
    3: "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec",
    4: "sun|mon|tue|wed|thu|fri|sat",
}
_TOKEN = r"(?:\d+|{names})"
_TZ_PREFIX = r"^\s*(?:CRON_TZ|TZ)=(\S*)\s+(.*)$"
#: How far ahead "never fires" is checked (croniter gives up after this many years).
_MAX_YEARS = 50


@functools.cache
def _field_pattern(index: int) -> re.Pattern[str]:
    """The pattern of field ``index``, compiled on first use (not when Django sets up)."""
    names = _NAMES.get(index)
    token = _TOKEN.format(names=names) if names else r"\d+"
    item = rf"(?:\*|{token}(?:-{token})?)(?:/\d+)?"
    return re.compile(rf"^{item}(?:,{item})*$", re.IGNORECASE)


def split_timezone(text: str) -> tuple[str, str]:
    """``"CRON_TZ=Europe/Berlin 0 4 * * *"`` -> ``("0 4 * * *", "Europe/Berlin")``.

    Without a prefix the zone is ``""``."""
    match = re.match(_TZ_PREFIX, text or "", re.IGNORECASE | re.DOTALL)
    if match is None:
        return " ".join((text or "").split()), ""
    return " ".join(match.group(2).split()), match.group(1)


def qstash_cron(cron: str, timezone: str = "") -> str:
    """The ``Upstash-Cron`` value: the expression, prefixed ``CRON_TZ=<zone> `` when zoned."""
    cron = " ".join(cron.split())
    if timezone and timezone.upper() != "UTC":
        return f"CRON_TZ={timezone} {cron}"
    return cron


def get_zone(name: str) -> datetime.tzinfo:
    """The zone named ``name`` (blank: UTC); raises ValidationError when there is no such zone."""
    if not name or name.upper() == "UTC":
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(zone)r is not a known time zone: use an IANA name such as "
            "'Europe/Berlin' or 'America/New_York' (blank means UTC).",
            code="invalid_timezone",
            params={"zone": name},
        ) from None


def validate_timezone(name: str) -> None:
    get_zone(name)


def validate_cron(value: str) -> None:
    """Raise ValidationError, naming the field, unless ``value`` is a cron QStash accepts."""
    expression = " ".join((value or "").split())
    if not expression:
        raise ValidationError("Enter a cron expression, such as '0 0 * * *'.", code="required")
    if re.match(_TZ_PREFIX, expression, re.IGNORECASE | re.DOTALL):
        raise ValidationError(
            "Put the time zone in the time zone field, not a CRON_TZ= prefix in the cron.",
            code="cron_tz_prefix",
        )
    if expression.startswith("@"):
        raise ValidationError(
            "QStash takes a five-field cron, not %(macro)s: for example '0 0 * * *' is daily.",
            code="invalid_cron",
            params={"macro": expression.split()[0]},
        )
    fields = expression.split(" ")
    if len(fields) != 5:
        raise ValidationError(
            "A cron has five fields (minute hour day-of-month month day-of-week), "
            "%(count)d given: %(value)r.",
            code="invalid_cron",
            params={"count": len(fields), "value": expression},
        )
    # Imported on first use: the models import this module, and croniter (with dateutil) would
    # otherwise weigh on every process's django.setup().
    from croniter import CroniterBadDateError, CroniterError, croniter

    for index, field in enumerate(fields):
        template = ["*"] * 5
        template[index] = field
        if not _field_pattern(index).match(field) or not croniter.is_valid(" ".join(template)):
            raise ValidationError(
                "%(field)r is not a valid %(name)s field (allowed: %(range)s, with * , - /).",
                code="invalid_cron",
                params={"field": field, "name": FIELDS[index], "range": RANGES[index]},
            )
    try:
        next_runs(expression, count=1)
    except CroniterBadDateError:
        raise ValidationError(
            "%(value)r never fires (no such date).",
            code="never_fires",
            params={"value": expression},
        ) from None
    except (CroniterError, ValueError) as exc:
        raise ValidationError(
            "%(value)r is not a valid cron: %(error)s.",
            code="invalid_cron",
            params={"value": expression, "error": exc},
        ) from None


def next_runs(
    cron: str,
    timezone: str = "",
    *,
    count: int = 5,
    after: datetime.datetime | None = None,
) -> list[datetime.datetime]:
    """The next ``count`` fire times (aware, in the schedule's zone) after ``after`` (now)."""
    from croniter import croniter

    zone = get_zone(timezone)
    start = (after or datetime.datetime.now(datetime.timezone.utc)).astimezone(zone)
    iterator = croniter(" ".join(cron.split()), start, max_years_between_matches=_MAX_YEARS)
    runs: list[datetime.datetime] = []
    for _ in range(count):
        value = iterator.get_next(datetime.datetime)
        assert isinstance(value, datetime.datetime)
        runs.append(value)
    return runs


def describe(cron: str, timezone: str = "") -> str:
    """Human text (cron-descriptor), e.g. ``"At 04:00, Monday through Friday (UTC)"``."""
    zone = timezone or "UTC"
    try:
        from cron_descriptor import Options, get_description

        # Fixed, not taken from the process locale: the same words on every machine.
        try:
            options = Options(locale_code="en_US", use_24hour_time_format=True)
        except TypeError:  # cron-descriptor < 2 takes no arguments
            options = Options()
            options.locale_code = "en_US"
            options.use_24hour_time_format = True
        text = str(get_description(" ".join(cron.split()), options))
    except Exception:  # cron-descriptor raises its own types; fall back to the expression
        return f"{cron} ({zone})"
    return f"{text} ({zone})"


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define
# when Django sets up (this module is imported then).
class CronInfo(NamedTuple):
    """What the admin shows for a cron: the words, the next runs, or why it is invalid."""

    description: str
    runs: list[datetime.datetime]
    error: str = ""


def inspect_cron(cron: str, timezone: str = "", *, count: int = 5) -> CronInfo:
    try:
        validate_cron(cron)
        validate_timezone(timezone)
        return CronInfo(describe(cron, timezone), next_runs(cron, timezone, count=count))
    except ValidationError as exc:
        return CronInfo("", [], " ".join(exc.messages))
