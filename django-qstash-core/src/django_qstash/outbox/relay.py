"""Publishing outbox rows: claim them (never two drainers on one row), send, then settle them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from django_qstash import hooks
from django_qstash.outbox.conf import conf
from django_qstash.outbox.models import OutboxMessage
from django_qstash.outbox.settle import Published, settle, settler

logger = logging.getLogger("django_qstash.outbox")

#: How long a claim holds: a drainer that died mid-publish releases its rows after this.
LEASE = timedelta(seconds=60)
#: How long rows written in a transaction stay claimed by their process, for the publish right
#: after the commit (a process killed before it leaves them to the drain after this).
COMMIT_LEASE = timedelta(seconds=10)
#: Rows published right after the commit are settled later (``settle.SETTLE_DELAY``): only while
#: this much of their commit lease is left, so that no drainer takes them meanwhile.
SETTLE_MARGIN = timedelta(seconds=3)
#: The longest wait between two attempts of one row.
MAX_BACKOFF = 300
#: A process looks for rows left behind at most this often (after one of its own publishes).
BACKLOG_INTERVAL = 10.0

_last_backlog_pass = 0.0


@dataclass
class DrainReport:
    published: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DrainReport) -> None:
        self.published += other.published
        self.failed += other.failed
        self.errors.extend(other.errors)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 2, 4, 8, ... seconds, at most 5 min."""
    return timedelta(seconds=min(MAX_BACKOFF, 2 ** max(1, attempts)))


def _unclaimed(now: datetime) -> Q:
    return Q(published_at__isnull=True) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def claim(database: str, rows: QuerySet[OutboxMessage], limit: int) -> list[OutboxMessage]:
    """Claim up to ``limit`` unpublished, unclaimed rows of ``rows`` for this caller alone."""
    now = timezone.now()
    token = uuid.uuid4().hex
    candidates = rows.using(database).filter(_unclaimed(now)).order_by("pk")
    claimed = {
        "claim": token,
        "claimed_until": now + LEASE,
        "attempts": F("attempts") + 1,
    }
    if connections[database].features.has_select_for_update_skip_locked:
        # PostgreSQL: rows another drainer holds are skipped, not waited for.
        with transaction.atomic(using=database):
            pks = list(
                candidates.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit]
            )
            if pks:
                OutboxMessage.objects.using(database).filter(pk__in=pks).update(**claimed)
    else:
        # SQLite: one UPDATE statement is one write transaction, and the condition is checked
        # again inside it, so of two drainers only one claims a row.
        subquery = candidates.values("pk")[:limit]
        OutboxMessage.objects.using(database).filter(_unclaimed(now), pk__in=subquery).update(
            **claimed
        )
    # ``exclude(claim="")`` names the condition of the partial index ``dq_outbox_claim``.
    mine = OutboxMessage.objects.using(database).filter(claim=token).exclude(claim="")
    return list(mine.order_by("pk"))


def publish(database: str, rows: list[OutboxMessage], *, later: bool = False) -> DrainReport:
    """Publish claimed rows (one batch request for several) and settle each: published (at once,
    or ``later`` by the settler), or released with its error and a backoff. Never raises for a
    failed publish."""
    report = DrainReport()
    messages: list[tuple[OutboxMessage, hooks.PreparedMessage]] = []
    for row in rows:
        try:
            messages.append((row, hooks.PreparedMessage.from_dict(row.message)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            _failed(database, [row], f"the stored message cannot be read: {exc!r}", report)
    if not messages:
        return report
    try:
        if len(messages) == 1:
            message_ids = [hooks.publish_prepared(messages[0][1])]
        else:
            message_ids = hooks.publish_prepared_batch([prepared for _, prepared in messages])
    except hooks.PublishError as exc:
        if len(messages) > 1 and exc.status is not None and 400 <= exc.status < 500:
            # QStash refused the batch: one bad message must not hold back the others.
            for row, _ in messages:
                report.add(publish(database, [row], later=later))
            return report
        _failed(database, [row for row, _ in messages], str(exc), report)
        return report
    _published(database, [row for row, _ in messages], message_ids, later)
    report.published += len(messages)
    return report


def _published(
    database: str, rows: list[OutboxMessage], message_ids: list[str], later: bool
) -> None:
    pks = [row.pk for row in rows]
    if later:
        # Right after the commit: settled with others, in a transaction of their own, shortly.
        settler.add(database, pks, message_ids)
        return
    now = timezone.now()
    settle(database, [Published(pk, mid, now) for pk, mid in zip(pks, message_ids, strict=True)])


def _failed(database: str, rows: list[OutboxMessage], error: str, report: DrainReport) -> None:
    now = timezone.now()
    for row in rows:
        OutboxMessage.objects.using(database).filter(pk=row.pk).update(
            claim="",
            claimed_until=None,
            last_error=error[:2000],
            available_at=now + backoff(row.attempts),
        )
    report.failed += len(rows)
    report.errors.append(error)
    logger.warning("django-qstash outbox: %d message(s) not published yet: %s", len(rows), error)


def publish_pks(database: str, pks: Iterable[int]) -> DrainReport:
    """Publish these rows now (if unpublished and unclaimed), whatever their backoff."""
    wanted = list(pks)
    rows = claim(database, OutboxMessage.objects.filter(pk__in=wanted), limit=len(wanted))
    report = DrainReport()
    for start in range(0, len(rows), conf.BATCH_SIZE):
        report.add(publish(database, rows[start : start + conf.BATCH_SIZE]))
    return report


def publish_after_commit(database: str, rows: list[OutboxMessage]) -> None:
    """The on-commit callback of the interceptor: publish its rows, and never raise."""
    try:
        until = rows[0].claimed_until if rows else None
        if until is not None and until > timezone.now() + SETTLE_MARGIN:
            # The publish and the deferred settling both fall inside the commit lease.
            report = publish(database, rows, later=True)
        else:
            # A transaction (nearly) longer than the lease: claim the rows again, as a drainer
            # would, and settle them at once.
            report = publish_pks(database, [row.pk for row in rows])
        if report.published and not report.failed:
            drain_backlog(database)
    except Exception:
        logger.exception("django-qstash outbox: publishing after the commit failed")


def drain_backlog(database: str) -> None:
    """After a successful publish: rows left by earlier failures, at most every few seconds."""
    global _last_backlog_pass
    now = time.monotonic()
    if now - _last_backlog_pass < BACKLOG_INTERVAL:
        return
    _last_backlog_pass = now
    # This process's own published rows wait for the settling thread (no commit here for them).
    for _ in drain(database, respect_backoff=True, max_batches=10, settle_first=False):
        pass


def drain(
    database: str | None = None,
    *,
    respect_backoff: bool = True,
    max_batches: int | None = None,
    settle_first: bool = True,
) -> Iterator[DrainReport]:
    """Publish every pending row, batch by batch; yields each batch's report. Settles this
    process's published rows (``settle_first``) and removes published rows kept longer than
    DJANGO_QSTASH_OUTBOX_KEEP first."""
    database = database or router.db_for_write(OutboxMessage)
    if settle_first:
        settler.flush(database)
    purge(database)
    batches = 0
    seen_failures: set[int] = set()
    while max_batches is None or batches < max_batches:
        rows = OutboxMessage.objects.exclude(pk__in=seen_failures)
        if respect_backoff:
            rows = rows.filter(available_at__lte=timezone.now())
        claimed = claim(database, rows, conf.BATCH_SIZE)
        if not claimed:
            return
        batches += 1
        report = publish(database, claimed)
        yield report
        if report.failed and not report.published:
            return  # QStash unreachable or refusing: the next pass tries again, after the backoff
        # Tried in this pass: the next pass tries again, after the backoff.
        seen_failures.update(row.pk for row in claimed)


def purge(database: str) -> int:
    """Delete published rows older than DJANGO_QSTASH_OUTBOX_KEEP; how many."""
    cutoff = timezone.now() - timedelta(seconds=max(0, conf.KEEP))
    deleted, _ = (
        OutboxMessage.objects.using(database)
        .filter(published_at__isnull=False, published_at__lt=cutoff)
        .delete()
    )
    return int(deleted)


def pending_summary(database: str | None = None) -> dict[str, Any]:
    """How many rows wait, and the oldest one's creation time."""
    database = database or router.db_for_write(OutboxMessage)
    pending = OutboxMessage.objects.using(database).filter(published_at__isnull=True)
    oldest = pending.order_by("pk").values_list("created_at", flat=True).first()
    return {"pending": pending.count(), "oldest": oldest}
