"""The database result store: core asks it before running a delivery and tells it the outcome.

It claims a delivery in one of two ways (``DJANGO_QSTASH_RESULTS_CLAIM_MODE``):

**lock** (the default on SQLite): one database commit per delivery. The claim takes two
host-wide locks, on the message id and on the signature's ``jti`` (:mod:`.locks`), and only
*reads* the database (was this token seen, did this message succeed); the outcome, the ``jti``
and the row are then written in one transaction, and the locks are released. A delivery that
finds a lock taken is in progress (or, for the ``jti``, replayed) right now. A worker that dies
releases its locks with its process, so no lease is needed. SQLite lives on one host, so a
host-wide lock covers every delivery that can race. The row shows STARTED only with
``DJANGO_QSTASH_RESULTS_TRACK_STARTED`` (one more commit).

**row** (the default on every other database, where deliveries may run on many hosts): two
commits per delivery.

1. :meth:`DatabaseResultStore.claim`, one transaction: remember the signature's ``jti`` (a
   replayed token fails on its primary key), then look at the message's row (``SELECT ... FOR
   UPDATE`` where the database has it) and either create it as STARTED, move it to STARTED, or
   leave it alone and tell core not to run the task.
2. ``record_success`` / ``record_failure`` / ``record_retry``, one ``UPDATE`` of that row.

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

import datetime
import hashlib
import json
import logging
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    models,
    router,
    transaction,
)
from django.db.models import Q
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.conf import conf
from django_qstash.results.exceptions import TaskExpired
from django_qstash.results.locks import (
    FileLocks,
    Held,
    Locks,
    ProcessLocks,
    ofd_locks_available,
)
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus

logger = logging.getLogger("django_qstash.results")

T = TypeVar("T")

#: How often a claim starts over after losing the race to insert a message's row.
CLAIM_ATTEMPTS = 3
#: Seconds before the first retry of a failed outcome write; each further retry waits 4x longer.
FIRST_RETRY_DELAY = 0.05
#: Rows that can be finished (or were): the outcome of an older delivery never replaces SUCCESS.
_NOT_SUCCESS = (TaskStatus.PENDING, TaskStatus.STARTED, TaskStatus.RETRY, TaskStatus.FAILURE)


def _from_timestamp(value: float) -> datetime.datetime:
    moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    return moment if settings.USE_TZ else timezone.make_naive(moment)


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


def _signature_expiry(delivery: hooks.Delivery) -> float:
    """Until when a token can be replayed: its ``exp`` plus the clock tolerance core allows."""
    if delivery.signature_expires is not None:
        return delivery.signature_expires + conf.CLOCK_TOLERANCE
    return time.time() + max(conf.STARTED_LEASE, 300.0)


def _started(delivery: hooks.Delivery, now: datetime.datetime | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "task_name": delivery.task_name,
        "request_id": _request_id(delivery),
        "status": TaskStatus.STARTED,
        "attempts": delivery.attempt,
        "date_started": now or timezone.now(),
        "date_done": None,
        "duration": None,
    }
    if delivery.schedule_id:
        update["schedule_id"] = delivery.schedule_id
    return update


def _request_id(delivery: hooks.Delivery) -> str:
    """The message's Celery task id (set by ``retry()`` and by ``task_id=``) when it is not the
    message id, else "" (such rows stay out of the request_id index)."""
    request_id = str(delivery.options.get("task_id") or "")
    return "" if request_id == delivery.message_id else request_id


def _new_row(delivery: hooks.Delivery, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "task_id": delivery.message_id,
        "request_id": _request_id(delivery),
        "task_name": delivery.task_name,
        "args": delivery.args,
        "kwargs": delivery.kwargs,
        "attempts": delivery.attempt,
        "schedule_id": delivery.schedule_id or "",
    }
    row.update(fields)
    return row


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


@dataclass
class _Claim:
    """A lock-mode claim of this thread, waiting for its outcome."""

    message_id: str
    held: Held
    row_exists: bool
    jti_recorded: bool
    #: When the locks may be released if the outcome could not be written.
    expires: float
    started: datetime.datetime


def _column(model: type[models.Model], name: str, quote: Callable[[str], str]) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return quote(str(field.column))


_look_up_sql: dict[str, str] = {}


def _look_up(using: str, jti: str | None, message_id: str) -> tuple[bool, list[tuple[str, bool]]]:
    """(was this ``jti`` seen, [(status, republished)] of the message's row), in one query."""
    connection = connections[using]
    sql = _look_up_sql.get(connection.vendor)
    if sql is None:
        qn = connection.ops.quote_name
        sql = _look_up_sql[connection.vendor] = (
            f"SELECT 1, NULL, NULL FROM {qn(SeenSignature._meta.db_table)} "
            f"WHERE {_column(SeenSignature, 'jti', qn)} = %s "
            f"UNION ALL SELECT 2, {_column(TaskResult, 'status', qn)}, "
            f"{_column(TaskResult, 'republished', qn)} FROM {qn(TaskResult._meta.db_table)} "
            f"WHERE {_column(TaskResult, 'task_id', qn)} = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [jti or "", message_id])
        found = cursor.fetchall()
    return (
        any(kind == 1 for kind, _, _ in found),
        [(status, bool(republished)) for kind, status, republished in found if kind == 2],
    )


#: Databases whose INSERT ... ON CONFLICT (column) DO NOTHING / DO UPDATE ... EXCLUDED we use.
_UPSERT_VENDORS = frozenset({"sqlite", "postgresql"})


_upsert_sql: dict[tuple[Any, ...], tuple[str, list[models.Field[Any, Any]]]] = {}


def _upsert(
    using: str,
    model: type[models.Model],
    values: dict[str, Any],
    *,
    conflict: str,
    update: Sequence[str] = (),
) -> bool:
    """``INSERT`` one row of ``model`` (``values``, defaults for the other fields); on a
    conflict on ``conflict``, update the ``update`` fields (with none: leave the row alone).

    One statement, built once and without the ORM's query compiler, which is most of the cost
    of a delivery's writes. False on a database without ``ON CONFLICT``.
    """
    connection = connections[using]
    if connection.vendor not in _UPSERT_VENDORS:
        return False
    key = (model, connection.vendor, conflict, tuple(update))
    cached = _upsert_sql.get(key)
    if cached is None:
        qn = connection.ops.quote_name
        fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.name == conflict]
        sql = (
            f"INSERT INTO {qn(model._meta.db_table)} "
            f"({', '.join(qn(str(f.column)) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({_column(model, conflict, qn)}) "
        )
        if update:
            sql += "DO UPDATE SET " + ", ".join(
                f"{_column(model, n, qn)} = EXCLUDED.{_column(model, n, qn)}" for n in update
            )
        else:
            sql += "DO NOTHING"
        cached = _upsert_sql[key] = (sql, fields)
    sql, fields = cached
    params = [
        f.get_db_prep_save(values[f.name] if f.name in values else f.get_default(), connection)
        for f in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return True


def _handled(status: str, republished: bool) -> bool:
    """The message needs no further run: it succeeded, or its task republished itself."""
    return status == TaskStatus.SUCCESS or (status == TaskStatus.RETRY and republished)


class DatabaseResultStore:
    """:class:`django_qstash.hooks.ResultStore` backed by :class:`TaskResult`."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._mutex = threading.Lock()
        self._locks: dict[tuple[str, str], Locks | None] = {}
        #: Locks of deliveries whose outcome could not be written: (release after, locks).
        self._parked: list[tuple[float, Held]] = []

    def __repr__(self) -> str:
        return "<DatabaseResultStore>"

    # ------------------------------------------------------------------------------ claim

    def claim(self, delivery: hooks.Delivery) -> hooks.ClaimDecision:
        using = router.db_for_write(TaskResult)
        self._release_leftovers()
        locks = self.locks_for(using)
        if locks is None:
            return self._claim_by_row(delivery, using)
        return self._claim_by_lock(delivery, using, locks)

    def claim_mode(self, using: str | None = None) -> str:
        """``"lock"`` or ``"row"``: how deliveries are claimed on this database."""
        alias = using or router.db_for_write(TaskResult)
        return "row" if self.locks_for(alias) is None else "lock"

    def locks_for(self, using: str) -> Locks | None:
        """The host-wide locks of the lock mode on this database, or None for the row mode."""
        connection = connections[using]
        mode = conf.CLAIM_MODE
        if mode == "row" or (mode == "auto" and connection.vendor != "sqlite"):
            return None
        name = str(connection.settings_dict["NAME"])
        key = (using, name)
        with self._mutex:
            if key not in self._locks:
                self._locks[key] = self._make_locks(connection, name)
            return self._locks[key]

    def _make_locks(self, connection: Any, name: str) -> Locks | None:
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
        else:  # lock mode forced on a client/server database: one host only
            digest = hashlib.sha256(f"{connection.vendor}:{name}".encode()).hexdigest()[:16]
            path = f"{tempfile.gettempdir()}/django-qstash-{digest}.locks"
        return FileLocks(path)

    # ---------------------------------------------------------------- lock mode

    def _claim_by_lock(
        self, delivery: hooks.Delivery, using: str, locks: Locks
    ) -> hooks.ClaimDecision:
        jti = delivery.signature_id
        keys = ([f"jti:{jti}"] if jti else []) + [f"msg:{delivery.message_id}"]
        held = locks.try_acquire(keys)
        if isinstance(held, str):
            # The same token, or the same message, is being handled right now.
            if held.startswith("jti:"):
                return hooks.ClaimDecision.REPLAYED
            # Another delivery holds the message. If it already succeeded, that one is only
            # turning a duplicate away (or storing): this one is a duplicate too. A 409 here
            # would make QStash retry a finished message and, its retries spent, dead-letter it.
            seen, found = _look_up(using, jti, delivery.message_id)
            if seen:
                return hooks.ClaimDecision.REPLAYED
            # Remember this token too, so that it can never run the task later (with another
            # message id, say). No other request holds it: its lock was free.
            with transaction.atomic(using=using):
                self._remember_signature(delivery, using, ignore_conflicts=True)
            if found and _handled(*found[0]):
                return hooks.ClaimDecision.ALREADY_SUCCEEDED
            return hooks.ClaimDecision.IN_PROGRESS
        try:
            seen, found = _look_up(using, jti, delivery.message_id)
            if seen:
                held.release()
                return hooks.ClaimDecision.REPLAYED
            if found and _handled(*found[0]):
                with transaction.atomic(using=using):
                    self._remember_signature(delivery, using, ignore_conflicts=True)
                held.release()
                return hooks.ClaimDecision.ALREADY_SUCCEEDED
            claim = _Claim(
                delivery.message_id,
                held,
                row_exists=bool(found),
                jti_recorded=False,
                expires=_signature_expiry(delivery),
                started=timezone.now(),
            )
            if conf.TRACK_STARTED:
                with transaction.atomic(using=using):
                    self._remember_signature(delivery, using, ignore_conflicts=True)
                    self._write_row(
                        delivery,
                        _started(delivery, claim.started),
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

    def _take_claim(self, delivery: hooks.Delivery) -> _Claim | None:
        claim: _Claim | None = getattr(self._local, "claim", None)
        if claim is None or claim.message_id != delivery.message_id:
            return None
        self._local.claim = None
        return claim

    def _release_leftovers(self) -> None:
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

    def release_locks(self) -> None:
        """Release every lock this store holds for this thread's claim or keeps after a failed
        outcome write (for tests, and for a process that shuts down)."""
        leftover: _Claim | None = getattr(self._local, "claim", None)
        self._local.claim = None
        with self._mutex:
            parked, self._parked = self._parked, []
        for held in [*(h for _, h in parked), *([leftover.held] if leftover else [])]:
            held.release()

    def _park(self, claim: _Claim) -> None:
        with self._mutex:
            self._parked.append((claim.expires, claim.held))

    # ---------------------------------------------------------------- row mode

    def _claim_by_row(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        for _ in range(CLAIM_ATTEMPTS):
            jti_recorded = False
            try:
                with transaction.atomic(using=using):
                    self._remember_signature(delivery, using)
                    jti_recorded = True
                    return self._claim_row(delivery, using)
            except IntegrityError:
                if not jti_recorded:
                    return hooks.ClaimDecision.REPLAYED
                # Another delivery of this message inserted its row between our SELECT and our
                # INSERT; everything was rolled back, so look again.
                continue
        raise RuntimeError(
            f"could not claim message {delivery.message_id}: its row kept changing under "
            f"{CLAIM_ATTEMPTS} attempts"
        )

    def remember_signature(self, jti: str, message_id: str, expires: float) -> bool:
        """Record a signature received by a view of your own (``@verify_qstash``); False when
        it was received before, a replay. Kept, like a delivery's, until the token expires."""
        seen = hooks.Delivery(
            message_id, "", [], {}, signature_id=jti, signature_expires=expires or None
        )
        using = router.db_for_write(SeenSignature)
        try:
            with transaction.atomic(using=using):
                self._remember_signature(seen, using)
        except IntegrityError:
            return False
        return True

    def _remember_signature(
        self, delivery: hooks.Delivery, using: str, *, ignore_conflicts: bool = False
    ) -> None:
        if not delivery.signature_id:
            return
        values = {
            "jti": delivery.signature_id,
            "task_id": delivery.message_id,
            "expires_at": _from_timestamp(_signature_expiry(delivery)),
        }
        if not ignore_conflicts:
            SeenSignature(**values).save(using=using, force_insert=True)
        elif not _upsert(using, SeenSignature, values, conflict="jti"):
            SeenSignature.objects.using(using).bulk_create(
                [SeenSignature(**values)], ignore_conflicts=True
            )

    def _claim_row(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        now = timezone.now()
        rows = TaskResult.objects.using(using)
        found = list(
            rows.select_for_update()
            .filter(task_id=delivery.message_id)
            .values_list("pk", "status", "date_started", "republished")[:1]
        )
        if not found:
            rows.create(**_new_row(delivery, date_created=now, **_started(delivery, now)))
            return hooks.ClaimDecision.RUN

        pk, status, date_started, republished = found[0]
        if _handled(status, republished):
            return hooks.ClaimDecision.ALREADY_SUCCEEDED
        if status == TaskStatus.STARTED and date_started is not None:
            age = (now - date_started).total_seconds()
            if age < conf.STARTED_LEASE:
                return hooks.ClaimDecision.IN_PROGRESS
            logger.warning(
                "Message %s of %s was STARTED %.0f s ago and never finished (longer than "
                "DJANGO_QSTASH_RESULTS_STARTED_LEASE = %s s): running it again",
                delivery.message_id,
                delivery.task_name,
                age,
                conf.STARTED_LEASE,
            )
        rows.filter(pk=pk).update(**_started(delivery, now))
        return hooks.ClaimDecision.RUN

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
            },
            keep_success=True,
        )

    def _write(
        self, delivery: hooks.Delivery, fields: dict[str, Any], *, keep_success: bool
    ) -> None:
        using = router.db_for_write(TaskResult)
        claim = self._take_claim(delivery)

        def write() -> None:
            if claim is None:  # row mode: the claim wrote the row and the jti
                self._write_row(delivery, fields, using, keep_success, row_exists=True)
                return
            # The claim wrote nothing (unless it tracked STARTED): this attempt's facts go
            # with its outcome, in one transaction. Only this delivery may write the row while
            # it holds the message's lock, so an upsert is enough.
            row = {**_started(delivery, claim.started), **fields}
            new = _new_row(delivery, date_created=claim.started, **row)
            with transaction.atomic(using=using):
                if not claim.jti_recorded:
                    self._remember_signature(delivery, using, ignore_conflicts=True)
                if not _upsert(using, TaskResult, new, conflict="task_id", update=list(row)):
                    self._write_row(
                        delivery, row, using, keep_success, claim.row_exists, claim.started
                    )

        try:
            _with_retries(write, using, delivery)
        except BaseException:
            if claim is not None:
                self._park(claim)
                logger.warning(
                    "The outcome of %s[%s] was not stored: the message and its token stay "
                    "locked on this host until %s, so that neither a redelivery nor a replay "
                    "runs it again meanwhile",
                    delivery.task_name,
                    delivery.message_id,
                    _from_timestamp(claim.expires).isoformat(),
                )
            else:
                logger.warning(
                    "The outcome of %s[%s] was not stored: its STARTED row holds the message "
                    "for DJANGO_QSTASH_RESULTS_STARTED_LEASE = %s s",
                    delivery.task_name,
                    delivery.message_id,
                    conf.STARTED_LEASE,
                )
            raise
        if claim is not None:
            claim.held.release()

    def _write_row(
        self,
        delivery: hooks.Delivery,
        fields: dict[str, Any],
        using: str,
        keep_success: bool,
        row_exists: bool,
        created: datetime.datetime | None = None,
    ) -> None:
        rows = TaskResult.objects.using(using).filter(task_id=delivery.message_id)
        if keep_success:
            rows = rows.filter(status__in=_NOT_SUCCESS)
        if row_exists and rows.update(**fields):
            return
        # No row yet, or it was deleted (cleanup ran while the task did), or (keep_success) an
        # other delivery already succeeded, which the INSERT below leaves untouched.
        try:
            with transaction.atomic(using=using):
                new = _new_row(delivery, **fields)
                if created is not None:
                    new["date_created"] = created
                TaskResult.objects.using(using).create(**new)
        except IntegrityError:
            if not row_exists:  # a row appeared meanwhile (a PENDING row from publishing)
                rows.update(**fields)

    def record_expired(self, delivery: hooks.Delivery) -> None:
        """Core's optional hook: the message arrived after its ``expires`` time and was not run.
        Stored as a FAILURE whose exception is :class:`TaskExpired`."""
        self._write(
            delivery,
            {
                **_started(delivery),
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
        )


def _with_retries(write: Callable[[], T], using: str, delivery: hooks.Delivery) -> T:
    """Run ``write``; on a connection-level error reconnect and try again, a few times.

    Inside a transaction that someone else opened the write is tried once: reconnecting would
    lose their work.
    """
    retries = max(0, conf.WRITE_RETRIES)
    delay = FIRST_RETRY_DELAY
    for attempt in range(retries + 1):
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            connection = connections[using]
            if attempt == retries or connection.in_atomic_block:
                raise
            logger.warning(
                "Could not store the outcome of %s[%s] (%s: %s); retrying in %.2f s",
                delivery.task_name,
                delivery.message_id,
                type(exc).__name__,
                exc,
                delay,
            )
            connection.close()
            time.sleep(delay)
            delay *= 4
    raise AssertionError("unreachable")  # pragma: no cover
