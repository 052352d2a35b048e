from __future__ import annotations

from django_qstash import shared_task


@shared_task
def build_report(year: int) -> str:
    return f"report {year}"
