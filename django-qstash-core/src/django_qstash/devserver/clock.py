"""Wall-clock time in the unit QStash's API uses (unix milliseconds)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return int(time.time() * 1000)
