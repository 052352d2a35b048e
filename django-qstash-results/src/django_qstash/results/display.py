"""How results read in the admin and the dashboard: durations, times and coloured statuses."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString


def human_duration(seconds: float | None) -> str:
    """``850 µs``, ``12.3 ms``, ``4.20 s``, ``3 min 5 s``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 0.001:
        return f"{seconds * 1_000_000:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def exact_time(moment: datetime.datetime | None) -> str:
    """``2026-12-06 05:03:12`` in the current time zone (seconds matter: runs are short)."""
    if moment is None:
        return "-"
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def status_badge(status: str) -> SafeString:
    """A coloured status label; the colours are in ``django_qstash_results/admin.css``."""
    return format_html('<span class="dqr-status dqr-status-{}">{}</span>', status.lower(), status)
