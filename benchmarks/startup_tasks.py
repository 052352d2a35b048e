"""The task the cold-start benchmark publishes (imported only by the process that publishes)."""

from __future__ import annotations

from django_qstash import shared_task


@shared_task(name="benchmarks.startup_noop")
def startup_noop(value: int) -> int:
    return value
