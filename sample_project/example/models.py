from __future__ import annotations

from django.db import models


class TaskRun(models.Model):
    """One row per task execution: the side effect the tests and the demo count."""

    task = models.CharField(max_length=200)
    key = models.CharField(max_length=200, blank=True, db_index=True)
    value = models.JSONField(null=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.task} {self.key}"
