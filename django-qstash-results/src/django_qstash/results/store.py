"""The database result store: core asks it before running a delivery and tells it the outcome.

One delivery costs two database commits:

1. :meth:`DatabaseResultStore.claim`, one transaction: remember the signature's ``jti`` (a
   replayed token fails on its primary key), then look at the message's row (``SELECT ... FOR
   UPDATE`` where the database has it) and either create it as STARTED, move it to STARTED, or
   leave it alone and tell core not to run the task.
2. ``record_success`` / ``record_failure`` / ``record_retry``, one ``UPDATE`` of that row.

Claim decisions, for a row found with status

* none: create it STARTED, **run**;
* SUCCESS, or RETRY after the task republished itself: **already succeeded** (core answers 200
  and runs nothing);
* STARTED less than ``DJANGO_QSTASH_RESULTS_STARTED_LEASE`` seconds ago: **in progress** (core
  answers a retryable 409);
* STARTED longer ago than the lease (the worker that claimed it died), PENDING, FAILURE or
  RETRY: move it to STARTED, **run**.

A token whose ``jti`` was seen before is **replayed** whatever the message id says, and the
claim writes nothing.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.conf import conf
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

    def __repr__(self) -> str:
        return "<DatabaseResultStore>"

    # ------------------------------------------------------------------------------ claim

    def claim(self, delivery: hooks.Delivery) -> hooks.ClaimDecision:
        using = router.db_for_write(TaskResult)
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

    def _remember_signature(self, delivery: hooks.Delivery, using: str) -> None:
        if not delivery.signature_id:
            return
        if delivery.signature_expires is not None:
            expires = delivery.signature_expires + conf.CLOCK_TOLERANCE
        else:  # pragma: no cover - core requires ``exp``; keep a day to be safe
            expires = time.time() + 86_400
        SeenSignature.objects.using(using).create(
            jti=delivery.signature_id,
            task_id=delivery.message_id,
            expires_at=_from_timestamp(expires),
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
            rows.create(
                task_id=delivery.message_id,
                task_name=delivery.task_name,
                status=TaskStatus.STARTED,
                args=delivery.args,
                kwargs=delivery.kwargs,
                attempts=delivery.attempt,
                schedule_id=delivery.schedule_id or "",
                date_created=now,
                date_started=now,
            )
            return hooks.ClaimDecision.RUN

        pk, status, date_started, republished = found[0]
        if status == TaskStatus.SUCCESS or (status == TaskStatus.RETRY and republished):
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
        update: dict[str, Any] = {
            "task_name": delivery.task_name,
            "status": TaskStatus.STARTED,
            "attempts": delivery.attempt,
            "date_started": now,
            "date_done": None,
            "duration": None,
        }
        if delivery.schedule_id:
            update["schedule_id"] = delivery.schedule_id
        rows.filter(pk=pk).update(**update)
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

        def write() -> None:
            rows = TaskResult.objects.using(using).filter(task_id=delivery.message_id)
            if keep_success:
                rows = rows.filter(status__in=_NOT_SUCCESS)
            if rows.update(**fields):
                return
            # No row to update: cleanup deleted it while the task ran, or (keep_success) an
            # other delivery already succeeded, which the INSERT below leaves untouched.
            TaskResult.objects.using(using).bulk_create(
                [
                    TaskResult(
                        task_id=delivery.message_id,
                        task_name=delivery.task_name,
                        args=delivery.args,
                        kwargs=delivery.kwargs,
                        attempts=delivery.attempt,
                        schedule_id=delivery.schedule_id or "",
                        **fields,
                    )
                ],
                ignore_conflicts=True,
            )

        _with_retries(write, using, delivery)

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

    # ------------------------------------------------------------------------------ reading

    def get(self, task_id: str) -> hooks.StoredResult | None:
        row = TaskResult.objects.filter(task_id=task_id).first()
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
