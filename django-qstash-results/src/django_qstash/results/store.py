"""The database result store: core asks it before running a delivery and tells it the outcome.

It claims a delivery in one of two ways (``DJANGO_QSTASH_RESULTS_CLAIM_MODE``), each in its own
module of :mod:`django_qstash.results.claims`:

* **lock** (the default on SQLite, :mod:`.claims.lock`): one database commit per delivery; the
  claim takes host-wide locks on the message id and the signature's ``jti`` and only reads.
* **row** (the default on every other database, :mod:`.claims.row`): two commits per delivery;
  the claim commits a STARTED row, which blocks redeliveries for a lease.

Claim decisions, for a row found with status

* none: **run** (row mode: create it STARTED);
* SUCCESS, or RETRY after the task republished itself: **already succeeded** (core answers 200
  and runs nothing);
* STARTED (row mode) less than ``DJANGO_QSTASH_RESULTS_STARTED_LEASE`` seconds ago: **in
  progress** (core answers a retryable 409); in lock mode the lock says whether a delivery is
  running, whatever the row says;
* STARTED longer ago than the lease (the worker that claimed it died), PENDING, FAILURE or
  RETRY: **run**.

A token whose ``jti`` was seen before is **replayed** whatever the message id says, and the
claim writes nothing.

When the outcome cannot be written (the database is down), the write is retried on a new
connection, then the error goes back to core, which logs the outcome and answers QStash with it
(200 with ``"stored": false`` after a success, so QStash does not deliver it again). In lock
mode the delivery's locks are then kept until its token expires, so neither a redelivery nor a
replay can run the task again on this host meanwhile; in row mode the STARTED row and the
committed ``jti`` do that.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, router
from django.db.models import Q
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.attempts import with_attempt_error
from django_qstash.results.conf import conf
from django_qstash.results.exceptions import TaskExpired
from django_qstash.results.models import TaskResult, TaskStatus

# The store is registered when Django sets up; the claim strategies and the locks are imported
# by the first delivery that claims (see strategy_for).
if TYPE_CHECKING:
    from django_qstash.results.claims.base import ClaimStrategy
    from django_qstash.results.locks import Locks

logger = logging.getLogger("django_qstash.results")

__all__ = ["DatabaseResultStore", "jsonable_result"]

#: Where ``auto`` means the lock mode: the database can take the claim's locks without a commit
#: (PostgreSQL's advisory locks; SQLite, on one host, file locks next to the database).
LOCKING_VENDORS = frozenset({"sqlite", "postgresql"})


def pooled(connection: Any) -> bool:
    """Django's own connection pool (PostgreSQL ``OPTIONS = {"pool": ...}``): a request's
    connection goes back to the pool, and advisory locks it still holds go with it to whichever
    request takes it next."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))


def locks_in_database(connection: Any) -> bool:
    """Does ``auto`` mean the lock mode on this connection's database?"""
    return connection.vendor in LOCKING_VENDORS and not pooled(connection)


def _dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the outcome
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def jsonable_result(value: Any) -> tuple[Any, bool]:
    """``(value, False)`` when ``value`` can be stored as JSON, else ``(repr(value), True)``."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return _safe_repr(value), True
    # PostgreSQL's jsonb refuses the NUL character; keep such a value as its repr everywhere.
    if "\\u0000" in text:
        return _safe_repr(value), True
    return value, False


class DatabaseResultStore:
    """:class:`django_qstash.hooks.ResultStore` backed by :class:`TaskResult`."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._strategies: dict[tuple[str, str, str], ClaimStrategy] = {}

    def __repr__(self) -> str:
        return "<DatabaseResultStore>"

    # ------------------------------------------------------------------------------ claim

    def claim(self, delivery: hooks.Delivery) -> hooks.ClaimDecision:
        using = router.db_for_write(TaskResult)
        strategy = self.strategy_for(using)
        strategy.release_leftovers()
        return strategy.claim(delivery, using)

    def claim_mode(self, using: str | None = None) -> str:
        """``"lock"`` or ``"row"``: how deliveries are claimed on this database."""
        return self.strategy_for(using or router.db_for_write(TaskResult)).mode

    def locks_for(self, using: str) -> Locks | None:
        """The locks of the lock mode on this database, or None for the row mode."""
        from django_qstash.results.claims.lock import LockClaims

        strategy = self.strategy_for(using)
        return strategy.locks if isinstance(strategy, LockClaims) else None

    @functools.cached_property
    def _row(self) -> ClaimStrategy:
        from django_qstash.results.claims.row import RowClaims

        return RowClaims()  # stateless: two threads building one each at first is harmless

    def strategy_for(self, using: str) -> ClaimStrategy:
        """The claim strategy of this database under the current settings."""
        from django_qstash.results.claims.lock import LockClaims

        connection = connections[using]
        mode = conf.CLAIM_MODE
        if mode == "auto":
            mode = "lock" if locks_in_database(connection) else "row"
        if mode == "row":
            return self._row
        name = str(connection.settings_dict["NAME"])
        key = (using, name, mode)
        strategy = self._strategies.get(key)
        if strategy is None:
            with self._mutex:
                strategy = self._strategies.get(key)
                if strategy is None:
                    locks = self._make_locks(connection, name)
                    strategy = self._row if locks is None else LockClaims(locks)
                    self._strategies[key] = strategy
        return strategy

    def _make_locks(self, connection: Any, name: str) -> Locks | None:
        from django_qstash.results.locks import (
            AdvisoryLocks,
            FileLocks,
            ProcessLocks,
            ofd_locks_available,
        )

        if connection.vendor == "postgresql":
            return AdvisoryLocks(connection.alias)
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            return ProcessLocks()  # no other process can open an in-memory database
        if not ofd_locks_available():
            logger.warning(
                "django-qstash results: host-wide locks need Linux; claiming deliveries by "
                "row (two commits per delivery) on database %r",
                connection.alias,
            )
            return None
        if connection.vendor == "sqlite":
            path = f"{name}.qstash-locks"
        else:  # lock mode forced on another client/server database: one host only
            digest = hashlib.sha256(f"{connection.vendor}:{name}".encode()).hexdigest()[:16]
            path = f"{tempfile.gettempdir()}/django-qstash-{digest}.locks"
        return FileLocks(path)

    def release_locks(self) -> None:
        """Release every lock this store holds for this thread's claim or keeps after a failed
        outcome write (for tests, and for a process that shuts down)."""
        for strategy in list(self._strategies.values()):
            strategy.release_all()

    def remember_signature(self, jti: str, message_id: str, expires: float) -> bool:
        """Record a signature received by a view of your own (``@verify_qstash``); False when
        it was received before, a replay. Kept, like a delivery's, until the token expires."""
        from django_qstash.results.claims.base import remember_received

        return remember_received(jti, message_id, expires)

    # ------------------------------------------------------------------------------ outcomes

    def record_success(self, delivery: hooks.Delivery, value: Any, duration: float) -> None:
        result, is_repr = jsonable_result(value)
        if is_repr:
            logger.warning(
                "The return value of %s[%s] is not JSON-serialisable (%s); its repr is stored "
                "instead (result_is_repr=True)",
                delivery.task_name,
                delivery.message_id,
                type(value).__name__,
            )
        self._write(
            delivery,
            {
                "status": TaskStatus.SUCCESS,
                "result": result,
                "result_is_repr": is_repr,
                "exception_type": "",
                "exception_message": "",
                "traceback": "",
                "republished": False,
                "date_done": timezone.now(),
                "duration": duration,
            },
            keep_success=False,
        )

    def record_failure(
        self,
        delivery: hooks.Delivery,
        exc: BaseException,
        traceback: str,
        *,
        final: bool,
        duration: float,
    ) -> None:
        self._write(
            delivery,
            {
                "status": TaskStatus.FAILURE if final else TaskStatus.RETRY,
                "result": None,
                "result_is_repr": False,
                "exception_type": _dotted(type(exc)),
                "exception_message": _safe_str(exc),
                "traceback": traceback,
                "republished": False,
                "date_done": timezone.now(),
                "duration": duration,
                "attempt_errors": with_attempt_error(delivery, exc),
            },
            keep_success=True,
        )

    def record_retry(
        self, delivery: hooks.Delivery, exc: BaseException | None, countdown: float | None
    ) -> None:
        self._write(
            delivery,
            {
                "status": TaskStatus.RETRY,
                "result": None,
                "result_is_repr": False,
                "exception_type": _dotted(type(exc)) if exc is not None else "",
                "exception_message": _safe_str(exc) if exc is not None else "",
                "traceback": "",
                "republished": True,
                "date_done": timezone.now(),
                # The protocol gives no run time for a retry: time since the delivery arrived.
                "duration": max(0.0, time.time() - delivery.received_at),
                "attempt_errors": with_attempt_error(delivery, exc),
            },
            keep_success=True,
        )

    def record_expired(self, delivery: hooks.Delivery) -> None:
        """Core's optional hook: the message arrived after its ``expires`` time and was not run.
        Stored as a FAILURE whose exception is :class:`TaskExpired`."""
        from django_qstash.results.claims.base import started

        self._write(
            delivery,
            {
                **started(delivery),
                "status": TaskStatus.FAILURE,
                "result": None,
                "result_is_repr": False,
                "exception_type": _dotted(TaskExpired),
                "exception_message": (
                    f"the message expired at {delivery.options.get('expires')} before it "
                    "could run; it was not run"
                ),
                "traceback": "",
                "republished": False,
                "date_started": None,
                "date_done": timezone.now(),
            },
            keep_success=True,
        )

    def _write(
        self, delivery: hooks.Delivery, fields: dict[str, Any], *, keep_success: bool
    ) -> None:
        using = router.db_for_write(TaskResult)
        self.strategy_for(using).write(delivery, fields, using, keep_success)

    # ------------------------------------------------------------------------------ publishing

    def record_published(
        self, task_id: str, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        """Write a PENDING row when DJANGO_QSTASH_RESULTS_STORE_PENDING is on.

        The message is already published: a database error here is logged, never raised (the
        caller would publish again), and a row a fast delivery already wrote is left alone.
        """
        if not conf.STORE_PENDING:
            return
        try:
            TaskResult.objects.bulk_create(
                [
                    TaskResult(
                        task_id=task_id,
                        task_name=task_name,
                        status=TaskStatus.PENDING,
                        args=list(args),
                        kwargs=dict(kwargs),
                    )
                ],
                ignore_conflicts=True,
            )
        except DatabaseError:
            logger.warning(
                "Could not store the PENDING row of %s[%s]; the message was published",
                task_name,
                task_id,
                exc_info=True,
            )

    async def arecord_published(
        self, task_id: str, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> None:
        """:meth:`record_published` from async code: no thread at all unless PENDING rows are
        kept (the database is written from a thread then)."""
        if conf.STORE_PENDING:
            await sync_to_async(self.record_published)(task_id, task_name, args, kwargs)

    # ------------------------------------------------------------------------------ reading

    def get(self, task_id: str) -> hooks.StoredResult | None:
        """The result for a message id, or for a Celery task id: the latest row of the runs that
        share it, so that the result of a task that republished itself (``retry()``) follows it
        to its last attempt."""
        row = (
            TaskResult.objects.filter(
                Q(task_id=task_id) | (Q(request_id=task_id) & ~Q(request_id=""))
            )
            .order_by("-date_created", "-pk")
            .first()
        )
        if row is None:
            return None
        return hooks.StoredResult(
            task_id=row.task_id,
            task_name=row.task_name,
            status=row.status,
            result=row.result,
            exception_type=row.exception_type or None,
            exception_message=row.exception_message or None,
            traceback=row.traceback or None,
            args=row.args,
            kwargs=row.kwargs,
            attempts=row.attempts,
            date_done=row.date_done,
            date_created=row.date_created,
            date_started=row.date_started,
            django_task=row.django_task,
        )
