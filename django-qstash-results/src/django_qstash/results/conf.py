"""Settings of the results app, read lazily through one ``conf`` object, as core reads its own.

A value is read from ``django.conf.settings`` on first use, converted, and remembered until a
``setting_changed`` signal (sent by ``override_settings``) says otherwise: the store reads
several settings per delivery. Each default is declared once, in :data:`SETTINGS`; a value that
cannot be converted raises ImproperlyConfigured naming the setting, and the system checks
(:mod:`django_qstash.results.checks`) report it at startup instead.

``DJANGO_QSTASH_RESULT_TTL`` and ``DJANGO_QSTASH_CLOCK_TOLERANCE`` are core's settings: they are
read through core's ``conf`` (``hooks.core_settings()``), where their defaults are declared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from django.conf import settings

from django_qstash import hooks

#: ``auto``: lock mode where the database can take its locks (SQLite, PostgreSQL), row mode
#: elsewhere.
CLAIM_MODES = ("auto", "lock", "row")


def _claim_mode(value: Any) -> str:
    mode = str(value).lower()
    if mode not in CLAIM_MODES:
        raise ValueError(f"must be one of {list(CLAIM_MODES)}, not {value!r}")
    return mode


def _flag(value: Any) -> bool:
    # bool("False") is True: a string here is a mistake, not a truthy value.
    if value not in (True, False) or not isinstance(value, (bool, int)):
        raise ValueError(f"must be True or False, not {value!r}")
    return bool(value)


def _number(minimum: float, kind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"must be a number >= {minimum}, not {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number >= {minimum}, not {value!r}") from None
        if number < minimum or number != number:  # NaN compares false with everything
            raise ValueError(f"must be a number >= {minimum}, not {value!r}")
        return number

    return convert


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define
# when Django sets up (this module is imported then).
class Setting(NamedTuple):
    name: str
    default: Any
    convert: Callable[[Any], Any]
    doc: str


#: Every setting the results app reads: the ``conf`` attribute, its Django setting, default.
SETTINGS: dict[str, Setting] = {
    s.name.split("_QSTASH_", 1)[1].removeprefix("RESULTS_"): s
    for s in (
        Setting(
            "DJANGO_QSTASH_RESULTS_STORE_PENDING",
            False,
            _flag,
            "write a PENDING row when a task is published",
        ),
        Setting(
            "DJANGO_QSTASH_RESULTS_CLAIM_MODE",
            "auto",
            _claim_mode,
            "how a delivery is claimed before it runs",
        ),
        Setting(
            "DJANGO_QSTASH_RESULTS_TRACK_STARTED",
            False,
            _flag,
            "in lock mode, also store STARTED (one more commit per delivery)",
        ),
        Setting(
            "DJANGO_QSTASH_RESULTS_STARTED_LEASE",
            900,  # 15 minutes: QStash's longest delivery timeout on the free plan
            _number(0, float),
            "seconds a STARTED row (row mode) blocks redeliveries",
        ),
        Setting(
            "DJANGO_QSTASH_RESULTS_DELETE_BATCH_SIZE",
            10_000,
            _number(1, int),
            "rows deleted per cleanup statement",
        ),
        Setting(
            "DJANGO_QSTASH_RESULTS_WRITE_RETRIES",
            2,
            _number(0, int),
            "extra tries of an outcome write that failed",
        ),
    )
}

DEFAULT_RESULT_TTL: int = hooks.DEFAULT_RESULT_TTL


def raw(key: str) -> Any:
    """The value of ``SETTINGS[key]`` as settings hold it (the default when unset)."""
    entry = SETTINGS[key]
    return getattr(settings, entry.name, entry.default)


def convert(key: str, value: Any) -> Any:
    """``value`` converted for ``key``; ImproperlyConfigured saying why when it cannot be."""
    entry = SETTINGS[key]
    try:
        return entry.convert(value)
    except ValueError as exc:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"{entry.name} {exc}") from None


def _declared(key: str) -> hooks.setting[Any]:
    entry = SETTINGS[key]
    return hooks.setting(entry.name, entry.default, functools.partial(convert, key))


class ResultsSettings(hooks.LazySettings):
    """The results app's settings, converted, cached until a ``setting_changed`` signal."""

    raw = staticmethod(raw)
    convert = staticmethod(convert)

    STORE_PENDING: hooks.setting[bool] = _declared("STORE_PENDING")
    #: ``"auto"``, ``"lock"`` or ``"row"``.
    CLAIM_MODE: hooks.setting[str] = _declared("CLAIM_MODE")
    TRACK_STARTED: hooks.setting[bool] = _declared("TRACK_STARTED")
    STARTED_LEASE: hooks.setting[float] = _declared("STARTED_LEASE")
    DELETE_BATCH_SIZE: hooks.setting[int] = _declared("DELETE_BATCH_SIZE")
    WRITE_RETRIES: hooks.setting[int] = _declared("WRITE_RETRIES")

    @property
    def RESULT_TTL(self) -> int:
        return hooks.core_settings().RESULT_TTL

    @property
    def CLOCK_TOLERANCE(self) -> float:
        return float(hooks.core_settings().CLOCK_TOLERANCE)


conf = ResultsSettings()
conf.connect("django_qstash.results.conf.clear_cache")
