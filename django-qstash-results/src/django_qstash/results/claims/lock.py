"""The lock claim mode: one database commit per delivery.

The claim takes two locks, on the message id and on the signature's ``jti``
(:mod:`django_qstash.results.locks`), and only *reads* the database (was this token seen, did
this message succeed); the outcome, the ``jti`` and the row are then written in one
transaction, and the locks are released. A delivery that finds a lock taken is in progress
(or, for the ``jti``, replayed) right now. A worker that dies releases its locks with its
process, so no lease is needed. The row shows STARTED only with
``DJANGO_QSTASH_RESULTS_TRACK_STARTED`` (one more commit).

When the outcome cannot be written, the delivery's locks are kept until its token expires, so
neither a redelivery nor a replay can run the task again meanwhile.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.claims.base import (
    ClaimStrategy,
    from_timestamp,
    handled,
    look_up,
    new_row,
    remember_signature,
    signature_expiry,
    started,
    upsert,
    with_retries,
    write_row,
)
from django_qstash.results.conf import conf
from django_qstash.results.locks import Held, Locks
from django_qstash.results.models import TaskResult

logger = logging.getLogger("django_qstash.results")


@dataclass
class _Claim:
    """A claim of this thread, waiting for its outcome."""

    message_id: str
    held: Held
    row_exists: bool
    jti_recorded: bool
    #: When the locks may be released if the outcome could not be written.
    expires: float
    started: datetime.datetime


class LockClaims(ClaimStrategy):
    mode = "lock"

    def __init__(self, locks: Locks) -> None:
        self.locks = locks
        self._local = threading.local()
        self._mutex = threading.Lock()
        #: Locks of deliveries whose outcome could not be written: (release after, locks).
        self._parked: list[tuple[float, Held]] = []

    def __repr__(self) -> str:
        return f"<LockClaims {self.locks!r}>"

    def claim(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        jti = delivery.signature_id
        keys = ([f"jti:{jti}"] if jti else []) + [f"msg:{delivery.message_id}"]
        held = self.locks.try_acquire(keys)
        if isinstance(held, str):
            return self._turn_away(delivery, using, held)
        try:
            seen, found = look_up(using, jti, delivery.message_id)
            if seen:
                held.release()
                return hooks.ClaimDecision.REPLAYED
            if found and handled(*found[0]):
                with transaction.atomic(using=using):
                    remember_signature(delivery, using, ignore_conflicts=True)
                held.release()
                return hooks.ClaimDecision.ALREADY_SUCCEEDED
            claim = _Claim(
                delivery.message_id,
                held,
                row_exists=bool(found),
                jti_recorded=False,
                expires=signature_expiry(delivery),
                started=timezone.now(),
            )
            if conf.TRACK_STARTED:
                with transaction.atomic(using=using):
                    remember_signature(delivery, using, ignore_conflicts=True)
                    write_row(
                        delivery,
                        started(delivery, claim.started),
                        using,
                        keep_success=True,
                        row_exists=claim.row_exists,
                        created=claim.started,
                    )
                claim.jti_recorded = claim.row_exists = True
        except BaseException:
            held.release()
            raise
        self._local.claim = claim
        return hooks.ClaimDecision.RUN

    def _turn_away(self, delivery: hooks.Delivery, using: str, taken: str) -> hooks.ClaimDecision:
        """The same token, or the same message, is being handled right now."""
        if taken.startswith("jti:"):
            return hooks.ClaimDecision.REPLAYED
        # Another delivery holds the message. If it already succeeded, that one is only
        # turning a duplicate away (or storing): this one is a duplicate too. A 409 here
        # would make QStash retry a finished message and, its retries spent, dead-letter it.
        seen, found = look_up(using, delivery.signature_id, delivery.message_id)
        if seen:
            return hooks.ClaimDecision.REPLAYED
        # Remember this token too, so that it can never run the task later (with another
        # message id, say). No other request holds it: its lock was free.
        with transaction.atomic(using=using):
            remember_signature(delivery, using, ignore_conflicts=True)
        if found and handled(*found[0]):
            return hooks.ClaimDecision.ALREADY_SUCCEEDED
        return hooks.ClaimDecision.IN_PROGRESS

    def _take_claim(self, delivery: hooks.Delivery) -> _Claim | None:
        claim: _Claim | None = getattr(self._local, "claim", None)
        if claim is None or claim.message_id != delivery.message_id:
            return None
        self._local.claim = None
        return claim

    def release_leftovers(self) -> None:
        # A claim of this thread whose outcome never came (its request ended in an exception
        # core did not catch): that delivery is over, so let its message go.
        leftover: _Claim | None = getattr(self._local, "claim", None)
        if leftover is not None:
            self._local.claim = None
            leftover.held.release()
        if self._parked:
            now = time.time()
            with self._mutex:
                expired = [held for until, held in self._parked if until <= now]
                self._parked = [(until, held) for until, held in self._parked if until > now]
            for held in expired:
                held.release()

    def release_all(self) -> None:
        leftover: _Claim | None = getattr(self._local, "claim", None)
        self._local.claim = None
        with self._mutex:
            parked, self._parked = self._parked, []
        for held in [*(h for _, h in parked), *([leftover.held] if leftover else [])]:
            held.release()

    def write(
        self, delivery: hooks.Delivery, fields: dict[str, Any], using: str, keep_success: bool
    ) -> None:
        claim = self._take_claim(delivery)
        if claim is None:  # an outcome without a claim (an expired message)
            super().write(delivery, fields, using, keep_success)
            return

        def write() -> None:
            # The claim wrote nothing (unless it tracked STARTED): this attempt's facts go
            # with its outcome, in one transaction. Only this delivery may write the row while
            # it holds the message's lock, so an upsert is enough.
            row = {**started(delivery, claim.started), **fields}
            new = new_row(delivery, date_created=claim.started, **row)
            with transaction.atomic(using=using):
                if not claim.jti_recorded:
                    remember_signature(delivery, using, ignore_conflicts=True)
                if not upsert(using, TaskResult, new, conflict="task_id", update=list(row)):
                    write_row(delivery, row, using, keep_success, claim.row_exists, claim.started)

        try:
            with_retries(write, using, delivery)
        except BaseException:
            with self._mutex:
                self._parked.append((claim.expires, claim.held))
            logger.warning(
                "The outcome of %s[%s] was not stored: the message and its token stay "
                "locked on this host until %s, so that neither a redelivery nor a replay "
                "runs it again meanwhile",
                delivery.task_name,
                delivery.message_id,
                from_timestamp(claim.expires).isoformat(),
            )
            raise
        claim.held.release()
