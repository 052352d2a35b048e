"""Delete stale task results (and expired replay-protection entries) in bounded batches.

Shared by the ``clear_stale_results`` command and the ``clear_stale_results_task`` task. Each
batch is one ``DELETE`` of a primary-key range in its own transaction (see
:func:`delete_in_batches`), so memory stays flat whatever the table size, locks are short, and
an interrupted run keeps what it deleted.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import models, router
from django.utils import timezone

from django_qstash.results.conf import conf
from django_qstash.results.models import SeenSignature, TaskResult


@dataclass(frozen=True)
class CleanupReport:
    since: int
    cutoff: datetime.datetime
    #: Task results deleted (or, in a dry run, that would be).
    results: int
    #: Expired seen-signature entries deleted (or that would be).
    signatures: int
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "since": self.since,
            "cutoff": self.cutoff.isoformat(),
            "results": self.results,
            "signatures": self.signatures,
            "dry_run": self.dry_run,
        }


def stale_querysets(cutoff: datetime.datetime, using: str) -> list[models.QuerySet[TaskResult]]:
    """Results finished before ``cutoff``, and results never finished, created before it."""
    rows = TaskResult.objects.using(using)
    return [
        rows.filter(date_done__lt=cutoff),
        # PENDING rows, and STARTED rows whose run died, have no date_done.
        rows.filter(date_done__isnull=True, date_created__lt=cutoff),
    ]


def clear_stale_results(
    since: int | None = None,
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
    now: datetime.datetime | None = None,
) -> CleanupReport:
    """Delete results older than ``since`` seconds (default ``DJANGO_QSTASH_RESULT_TTL``)."""
    since = conf.RESULT_TTL if since is None else int(since)
    if since < 0:
        raise ValueError(f"since must be a number of seconds >= 0, not {since}")
    batch_size = conf.DELETE_BATCH_SIZE if batch_size is None else int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=since)
    using = router.db_for_write(TaskResult)
    signatures = SeenSignature.objects.using(using).filter(expires_at__lt=now)

    if dry_run:
        results = sum(qs.count() for qs in stale_querysets(cutoff, using))
        return CleanupReport(since, cutoff, results, signatures.count(), dry_run=True)

    results = sum(delete_in_batches(qs, batch_size) for qs in stale_querysets(cutoff, using))
    expired = delete_in_batches(signatures, batch_size)
    return CleanupReport(since, cutoff, results, expired)


def delete_in_batches(queryset: models.QuerySet[models.Model], batch_size: int) -> int:
    """Delete every row of ``queryset``, ``batch_size`` rows per statement; return the count.

    Batches are primary-key ranges, each one ``DELETE`` (an index range scan) in its own
    transaction: no row is read into memory, no batch scans again past what earlier batches
    deleted (dead rows slow such scans down on PostgreSQL), and no statement needs a LIMIT
    inside IN (which MySQL refuses). With an integer key the ranges are fixed steps between the
    first and the last matching key; otherwise each batch first reads the key of its last row.
    """
    rows = queryset.order_by()
    if not isinstance(rows.model._meta.pk, models.IntegerField):  # AutoField, BigAutoField, ...
        return _delete_by_key_boundaries(rows, batch_size)
    bounds = rows.aggregate(first=models.Min("pk"), last=models.Max("pk"))
    if bounds["first"] is None:
        return 0
    low, high = int(bounds["first"]) - 1, int(bounds["last"])
    total = 0
    while low < high:
        upper = min(low + batch_size, high)
        deleted: int
        deleted, _ = rows.filter(pk__gt=low, pk__lte=upper).delete()
        total += deleted
        low = upper
    return total


def _delete_by_key_boundaries(rows: models.QuerySet[models.Model], batch_size: int) -> int:
    total = 0
    after: object = None
    while True:
        window = rows if after is None else rows.filter(pk__gt=after)
        boundary = list(window.order_by("pk").values_list("pk", flat=True)[batch_size - 1 :][:1])
        last: int
        if not boundary:
            last, _ = window.delete()
            return total + last
        last, _ = window.filter(pk__lte=boundary[0]).delete()
        total += last
        after = boundary[0]
