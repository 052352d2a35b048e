"""Settling rows published right after their commit later, in bulk, in a transaction of their own.

Deleting each row (or, with DJANGO_QSTASH_OUTBOX_KEEP, marking it published) as soon as QStash
has its message would cost every transaction a second commit (on SQLite a second sync to disk).
Instead the publishing process remembers the rows and settles them together: at most
``SETTLE_DELAY`` seconds later (a background thread), at once when ``SETTLE_BATCH`` rows wait,
before an in-process drain, and at the process's exit. Until then a row stays claimed by its
process (the commit lease of the INSERT), so no drainer takes it. A process that dies before
settling leaves its rows to the drain, once the lease is over: publishing one again is harmless,
its deduplication id makes QStash keep one message.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, transaction
from django.utils import timezone

from django_qstash.outbox.conf import conf
from django_qstash.outbox.models import OutboxMessage

logger = logging.getLogger("django_qstash.outbox")

#: The longest a published row waits for its settling (far less than the commit lease).
SETTLE_DELAY = 1.0
#: Settle at once when this many rows wait in the process.
SETTLE_BATCH = 500
#: The thread stops after this many idle rounds (a new one starts with the next publish).
IDLE_ROUNDS = 5


@dataclass(frozen=True)
class Published:
    pk: int
    message_id: str
    at: datetime


class Settler:
    """This process's published rows that wait to be settled, and the thread that settles them."""

    def __init__(self) -> None:
        self._reset()
        self._atexit_registered = False

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._waiting: dict[str, list[Published]] = {}
        self._thread: threading.Thread | None = None

    def after_fork(self) -> None:
        """In a forked child: the parent settles its own rows; the child starts afresh."""
        self._reset()

    def add(self, database: str, pks: Sequence[int], message_ids: Sequence[str]) -> None:
        at = timezone.now()
        with self._lock:
            waiting = self._waiting.setdefault(database, [])
            pairs = zip(pks, message_ids, strict=True)
            waiting.extend(Published(pk, message_id, at) for pk, message_id in pairs)
            full = len(waiting) >= SETTLE_BATCH
            if self._thread is None:
                self._start()
        if full:
            self._wake.set()

    def waiting(self) -> int:
        with self._lock:
            return sum(len(rows) for rows in self._waiting.values())

    def flush(self, database: str | None = None) -> int:
        """Settle the waiting rows (of ``database``, or all) now; how many. Rows that could not
        be settled (the database unreachable) wait for the next round."""
        with self._lock:
            if database is None:
                taken, self._waiting = self._waiting, {}
            else:
                taken = {database: self._waiting.pop(database, [])}
        settled = 0
        for name, rows in taken.items():
            if not rows:
                continue
            try:
                settle(name, rows)
                settled += len(rows)
            except Exception:
                logger.exception("django-qstash outbox: settling %d published row(s)", len(rows))
                with self._lock:
                    self._waiting.setdefault(name, []).extend(rows)
        return settled

    def _start(self) -> None:
        if not self._atexit_registered:
            self._atexit_registered = True
            atexit.register(self.flush)
        self._thread = threading.Thread(
            target=self._run, name="django-qstash-outbox-settle", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        idle = 0
        try:
            while True:
                self._wake.wait(SETTLE_DELAY)
                self._wake.clear()
                with self._lock:
                    if not any(self._waiting.values()):
                        idle += 1
                        if idle >= IDLE_ROUNDS:
                            self._thread = None
                            return
                        continue
                idle = 0
                self.flush()
        finally:
            connections.close_all()  # this thread's own connections


def settle(database: str, rows: Sequence[Published]) -> None:
    """Delete the rows, or mark them published when DJANGO_QSTASH_OUTBOX_KEEP keeps them."""
    manager = OutboxMessage.objects.using(database)
    pks = [row.pk for row in rows]
    if conf.KEEP <= 0:
        with transaction.atomic(using=database):
            if connections[database].vendor == "postgresql":
                # Losing this delete in a crash only means the row is published again, which its
                # deduplication id makes harmless: no need to wait for the disk.
                with connections[database].cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            for start in range(0, len(pks), SETTLE_BATCH):
                manager.filter(pk__in=pks[start : start + SETTLE_BATCH]).delete()
        return
    marked = [
        OutboxMessage(
            pk=row.pk,
            published_at=row.at,
            message_id=row.message_id,
            claim="",
            claimed_until=None,
            last_error="",
        )
        for row in rows
    ]
    manager.bulk_update(
        marked,
        ["published_at", "message_id", "claim", "claimed_until", "last_error"],
        batch_size=SETTLE_BATCH,
    )


settler = Settler()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=settler.after_fork)
