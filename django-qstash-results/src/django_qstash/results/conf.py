"""Settings of the results app, read on every access so that ``override_settings`` works.

The app reads Django settings directly (it may use only core's public hook API, not core's
``conf``); the names and defaults shared with core (``DJANGO_QSTASH_RESULT_TTL``,
``DJANGO_QSTASH_CLOCK_TOLERANCE``) are the same as core's.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULT_RESULT_TTL = 604_800  # 7 days, as in core
DEFAULT_CLOCK_TOLERANCE = 5  # seconds, as in core
DEFAULT_STARTED_LEASE = 900  # 15 minutes: QStash's longest delivery timeout on the free plan
DEFAULT_DELETE_BATCH_SIZE = 10_000
DEFAULT_WRITE_RETRIES = 2
CLAIM_MODES = frozenset({"auto", "lock", "row"})


def _get(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


class ResultsSettings:
    @property
    def RESULT_TTL(self) -> int:
        """``DJANGO_QSTASH_RESULT_TTL``: seconds after which a result may be deleted."""
        return int(_get("DJANGO_QSTASH_RESULT_TTL", DEFAULT_RESULT_TTL))

    @property
    def CLOCK_TOLERANCE(self) -> float:
        """``DJANGO_QSTASH_CLOCK_TOLERANCE``: how long past ``exp`` core still accepts a token."""
        return float(_get("DJANGO_QSTASH_CLOCK_TOLERANCE", DEFAULT_CLOCK_TOLERANCE))

    @property
    def STORE_PENDING(self) -> bool:
        """``DJANGO_QSTASH_RESULTS_STORE_PENDING``: write a PENDING row when a task is published."""
        return bool(_get("DJANGO_QSTASH_RESULTS_STORE_PENDING", False))

    @property
    def CLAIM_MODE(self) -> str:
        """``DJANGO_QSTASH_RESULTS_CLAIM_MODE``: ``"auto"`` (lock on SQLite, row elsewhere),
        ``"lock"`` or ``"row"``: how a delivery is claimed before it runs."""
        mode = str(_get("DJANGO_QSTASH_RESULTS_CLAIM_MODE", "auto")).lower()
        if mode not in CLAIM_MODES:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                f"DJANGO_QSTASH_RESULTS_CLAIM_MODE must be one of {sorted(CLAIM_MODES)}, "
                f"not {mode!r}"
            )
        return mode

    @property
    def TRACK_STARTED(self) -> bool:
        """``DJANGO_QSTASH_RESULTS_TRACK_STARTED``: in lock mode, also store STARTED (one more
        commit per delivery). Row mode always does."""
        return bool(_get("DJANGO_QSTASH_RESULTS_TRACK_STARTED", False))

    @property
    def STARTED_LEASE(self) -> float:
        """``DJANGO_QSTASH_RESULTS_STARTED_LEASE``: seconds a STARTED row blocks redeliveries."""
        return float(_get("DJANGO_QSTASH_RESULTS_STARTED_LEASE", DEFAULT_STARTED_LEASE))

    @property
    def DELETE_BATCH_SIZE(self) -> int:
        """``DJANGO_QSTASH_RESULTS_DELETE_BATCH_SIZE``: rows deleted per cleanup statement."""
        return int(_get("DJANGO_QSTASH_RESULTS_DELETE_BATCH_SIZE", DEFAULT_DELETE_BATCH_SIZE))

    @property
    def WRITE_RETRIES(self) -> int:
        """``DJANGO_QSTASH_RESULTS_WRITE_RETRIES``: extra tries of an outcome write that failed."""
        return int(_get("DJANGO_QSTASH_RESULTS_WRITE_RETRIES", DEFAULT_WRITE_RETRIES))


conf = ResultsSettings()
