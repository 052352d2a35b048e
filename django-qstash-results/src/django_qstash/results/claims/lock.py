"""The lock claim mode: one database commit per delivery.

The claim takes two locks, on the message id and on the signature's ``jti``
(:mod:`django_qstash.results.locks`: PostgreSQL advisory locks, or host-wide file locks on
SQLite), and only *reads* the database (was this token seen, did this message succeed); the
outcome, the ``jti`` and the row are then written in one transaction (one statement on
PostgreSQL), and the locks are released. A delivery that finds a lock taken is in progress (or,
for the ``jti``, replayed) right now. A worker that dies releases its locks with its process or
its database session, so no lease is needed. The row shows STARTED only with
``DJANGO_QSTASH_RESULTS_TRACK_STARTED`` (one more commit).

The locks are taken in a statement of their own, before the reads: a statement sees the
database as it was when it began, so reads in the same statement could miss the outcome of the
delivery that released the locks a moment before.

When the outcome cannot be written, the process keeps it and writes it before its next claims
once the database answers, so a redelivery it receives finds the message done; and locks that
are still held are kept by the thread until the delivery's token expires, so neither a
redelivery nor a replay can run the task again meanwhile (locks lost with their database
session, because the database went away, cannot be kept).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.claims.base import (
    ClaimStrategy,
    Found,
    found_in,
    from_timestamp,
    handled,
    look_up,
    look_up_statement,
    new_row,
    outcome_statement,
    remember_signature,
    signature_expiry,
    signature_values,
    started,
    upsert_outcome,
    with_retries,
    write_row,
)
from django_qstash.results.conf import conf
from django_qstash.results.locks import Held, Locks

logger = logging.getLogger("django_qstash.results")


@dataclass
class _Claim:
    """A claim of this thread, waiting for its outcome."""

    message_id: str
    using: str
    keys: list[str]
    held: Held
    row_exists: bool
    jti_recorded: bool
    #: When the locks may be released if the outcome could not be written.
    expires: float
    started: datetime.datetime


@dataclass
class _Parked:
    """Locks this thread keeps for a delivery whose outcome could not be written."""

    until: float
    keys: list[str]
    held: Held


@dataclass
class _Pending:
    """An outcome that could not be written and whose locks were lost: written later."""

    until: float
    delivery: hooks.Delivery
    claim: _Claim
    fields: dict[str, Any] = field(default_factory=dict)
    keep_success: bool = False


class LockClaims(ClaimStrategy):
    mode = "lock"

    def __init__(self, locks: Locks) -> None:
        self.locks = locks
        self._local = threading.local()
        self._mutex = threading.Lock()
        self._pending: list[_Pending] = []

    def __repr__(self) -> str:
        return f"<LockClaims {self.locks!r}>"

    def _parked(self) -> list[_Parked]:
        parked: list[_Parked] | None = getattr(self._local, "parked", None)
        if parked is None:
            parked = self._local.parked = []
        return parked

    # ------------------------------------------------------------------------------ claim

    def claim(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        jti = delivery.signature_id
        keys = ([f"jti:{jti}"] if jti else []) + [f"msg:{delivery.message_id}"]
        # This thread's own parked locks: a database session may take its own locks again.
        kept = {key for parked in self._parked() for key in parked.keys}
        taken = next((key for key in keys if key in kept), None)
        held, known = self._acquire(keys, using, delivery) if taken is None else (taken, None)
        if isinstance(held, str):
            return self._turn_away(delivery, using, held, known)
        try:
            seen, found = known if known is not None else look_up(using, jti, delivery.message_id)
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
                using,
                keys,
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

    def _acquire(
        self, keys: list[str], using: str, delivery: hooks.Delivery
    ) -> tuple[Held | str, Found | None]:
        """The locks (or the first key taken), and what the look-up found when the locks
        could run it in the same round trip (PostgreSQL)."""
        try_acquire_then = getattr(self.locks, "try_acquire_then", None)
        if try_acquire_then is None:
            return self.locks.try_acquire(keys), None
        statement = look_up_statement(using, delivery.signature_id, delivery.message_id)
        held, rows = try_acquire_then(keys, *statement)
        return held, found_in(rows)

    def _turn_away(
        self, delivery: hooks.Delivery, using: str, taken: str, known: Found | None
    ) -> hooks.ClaimDecision:
        """The same token, or the same message, is being handled right now."""
        if taken.startswith("jti:"):
            return hooks.ClaimDecision.REPLAYED
        # Another delivery holds the message. If it already succeeded, that one is only
        # turning a duplicate away (or storing): this one is a duplicate too. A 409 here
        # would make QStash retry a finished message and, its retries spent, dead-letter it.
        seen, found = (
            known
            if known is not None
            else look_up(using, delivery.signature_id, delivery.message_id)
        )
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

    # ------------------------------------------------------------------------------ leftovers

    def release_leftovers(self) -> None:
        # A claim of this thread whose outcome never came (its request ended in an exception
        # core did not catch): that delivery is over, so let its message go.
        leftover: _Claim | None = getattr(self._local, "claim", None)
        if leftover is not None:
            self._local.claim = None
            leftover.held.release()
        parked = self._parked()
        if parked:
            now = time.time()
            for item in [p for p in parked if p.until <= now]:
                parked.remove(item)
                item.held.release()
        if self._pending:
            self._write_pending()

    def release_all(self) -> None:
        leftover: _Claim | None = getattr(self._local, "claim", None)
        self._local.claim = None
        parked, self._local.parked = self._parked(), []
        with self._mutex:
            self._pending = []
        for held in [*(p.held for p in parked), *([leftover.held] if leftover else [])]:
            held.release()

    def _write_pending(self) -> None:
        with self._mutex:
            pending, self._pending = self._pending, []
        now = time.time()
        for index, item in enumerate(pending):
            if item.until <= now:
                continue  # its token has expired: core refuses it now, and QStash has its answer
            try:
                self._store(item.delivery, item.claim, item.fields, item.keep_success)
            except DatabaseError:
                with self._mutex:  # still unreachable: try again before the next claim
                    self._pending.extend(pending[index:])
                return
            except Exception:
                logger.exception(
                    "Could not store the kept outcome of %s[%s]; it is dropped (the log above "
                    "has it)",
                    item.delivery.task_name,
                    item.delivery.message_id,
                )
                continue
            logger.warning(
                "Stored the outcome of %s[%s] now that the database answers again",
                item.delivery.task_name,
                item.delivery.message_id,
            )

    # ------------------------------------------------------------------------------ outcome

    def write(
        self, delivery: hooks.Delivery, fields: dict[str, Any], using: str, keep_success: bool
    ) -> None:
        claim = self._take_claim(delivery)
        if claim is None:  # an outcome without a claim (an expired message)
            super().write(delivery, fields, using, keep_success)
            return

        def write() -> None:
            # A reconnect (ours, or the task's) lost the locks with the old session.
            claim.held.renew()
            self._store(delivery, claim, fields, keep_success, release=True)

        try:
            with_retries(write, using, delivery)
        except BaseException:
            self._keep(delivery, claim, fields, keep_success)
            raise
        claim.held.release()

    def _store(
        self,
        delivery: hooks.Delivery,
        claim: _Claim,
        fields: dict[str, Any],
        keep_success: bool,
        release: bool = False,
    ) -> None:
        """Write the outcome (``release``: and let the claim's locks go, in the same round trip
        where the locks can do that)."""
        using = claim.using
        # The claim wrote nothing (unless it tracked STARTED): this attempt's facts go with its
        # outcome, in one transaction. Only this delivery may write the row while it holds the
        # message's lock, so an upsert is enough.
        row = {**started(delivery, claim.started), **fields}
        new = new_row(delivery, date_created=claim.started, **row)
        signature = None if claim.jti_recorded else signature_values(delivery)
        release_after = getattr(claim.held, "release_after", None) if release else None
        statement = outcome_statement(using, new, list(row), signature)
        if release_after is not None and statement is not None:
            release_after(*statement)
            return
        if not upsert_outcome(using, new, list(row), signature):
            with transaction.atomic(using=using):
                if signature is not None:
                    remember_signature(delivery, using, ignore_conflicts=True)
                write_row(delivery, row, using, keep_success, claim.row_exists, claim.started)

    def _keep(
        self, delivery: hooks.Delivery, claim: _Claim, fields: dict[str, Any], keep_success: bool
    ) -> None:
        """The outcome could not be written: keep it, to write before this process's next
        claims, and hold the message until its token expires where the locks still allow."""
        with self._mutex:
            self._pending.append(_Pending(claim.expires, delivery, claim, fields, keep_success))
        until = from_timestamp(claim.expires).isoformat()
        if claim.held.still_held():
            # A session's locks go with its connection, which may close at the end of this
            # request (CONN_MAX_AGE = 0): the kept outcome covers the rest.
            self._parked().append(_Parked(claim.expires, claim.keys, claim.held))
            logger.warning(
                "The outcome of %s[%s] was not stored: the message and its token stay locked "
                "until %s, so that neither a redelivery nor a replay runs it again meanwhile, "
                "and this process writes the outcome before its next claim",
                delivery.task_name,
                delivery.message_id,
                until,
            )
            return
        logger.warning(
            "The outcome of %s[%s] was not stored and its locks went with the database "
            "session: this process keeps it and writes it before its next claim, until %s",
            delivery.task_name,
            delivery.message_id,
            until,
        )
