"""Tasks in a tasks/ package rather than a tasks.py module."""

from __future__ import annotations

from django_qstash import shared_task
from tests.apps.pkgtasks.tasks.reports import build_report

__all__ = ["build_report", "ping"]


@shared_task(name="pkgtasks.ping")
def ping() -> str:
    return "pong"
