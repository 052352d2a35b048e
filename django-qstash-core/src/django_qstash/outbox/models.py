"""One row per prepared message waiting for (or kept after) its publish."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q


class OutboxMessage(models.Model):
    #: The prepared message exactly as the publish pipeline built it (``PreparedMessage.to_dict``).
    message: models.JSONField[Any, Any] = models.JSONField()
    task_name = models.CharField(max_length=255, blank=True)
    #: Sent as ``Upstash-Deduplication-Id``: publishing the row twice makes one QStash message.
    deduplication_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    #: Not published before this time (the backoff after a failed attempt).
    available_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    #: A drainer's claim on the row, valid until ``claimed_until`` (a crashed drainer's lapses).
    #: Rows written in a transaction have only ``claimed_until`` (their process's commit lease).
    claim = models.CharField(max_length=32, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)

    class Meta:
        verbose_name = "outbox message"
        ordering = ("pk",)
        # Few indexes: each one is written by the INSERT in your transaction. The drain and the
        # purge use the first (``published_at`` leads it); a drainer finds its claimed rows by
        # the second, which holds only rows a drainer claimed.
        indexes = (
            models.Index(fields=("published_at", "available_at"), name="dq_outbox_due"),
            models.Index(fields=("claim",), condition=~Q(claim=""), name="dq_outbox_claim"),
        )

    def __str__(self) -> str:
        return f"{self.task_name or 'message'} #{self.pk}"

    @property
    def pending(self) -> bool:
        return self.published_at is None
