"""Tasks that hold a delivery open until the test lets it go, so a fault can strike mid-delivery."""

from __future__ import annotations

import os
import time

from django_qstash import shared_task
from example.models import TaskRun


@shared_task
def hold(key: str, release: str, finish_write: bool = True, timeout: float = 60) -> str:
    """Record ``hold_started``, wait until the file ``release`` exists, then (``finish_write``)
    record ``hold_done``. Each row is one side effect a test counts."""
    TaskRun.objects.create(task="hold_started", key=key)
    deadline = time.monotonic() + timeout
    while not os.path.exists(release):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} never appeared")
        time.sleep(0.02)
    if finish_write:
        TaskRun.objects.create(task="hold_done", key=key)
    return key
