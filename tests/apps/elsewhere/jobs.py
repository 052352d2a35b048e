from __future__ import annotations

from django_qstash import stashed_task


@stashed_task(max_retries=2, timeout=30)
def cleanup(days: int = 7) -> int:
    return days
