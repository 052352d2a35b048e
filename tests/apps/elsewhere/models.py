"""No tasks.py here: the task lives in jobs.py and is imported by models.py, as apps do."""

from __future__ import annotations

from tests.apps.elsewhere.jobs import cleanup  # noqa: F401
