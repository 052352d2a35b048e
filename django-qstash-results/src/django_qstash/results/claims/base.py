"""What both claim strategies share: the rows they write, the few hand-built statements that
make a delivery cheap, and how an outcome reaches the database.

A strategy (:class:`ClaimStrategy`) decides, before a delivery runs, whether it may run
(:meth:`ClaimStrategy.claim`), and writes its outcome after (:meth:`ClaimStrategy.write`). The
store builds the outcome's fields; the strategy knows what its claim already wrote.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connections,
    models,
    router,
    transaction,
)
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.conf import conf
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus

logger = logging.getLogger("django_qstash.results")

T = TypeVar("T")

#: Seconds before the first retry of a failed outcome write; each further retry waits 4x longer.
FIRST_RETRY_DELAY = 0.05
#: Rows that can be finished (or were): the outcome of an older delivery never replaces SUCCESS.
NOT_SUCCESS = (TaskStatus.PENDING, TaskStatus.STARTED, TaskStatus.RETRY, TaskStatus.FAILURE)


class ClaimStrategy:
    """How deliveries are claimed on one database (one instance per database and mode)."""

    #: ``"lock"`` or ``"row"``, as ``DJANGO_QSTASH_RESULTS_CLAIM_MODE`` names it.
    mode = ""

    def claim(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        raise NotImplementedError

    def write(
        self, delivery: hooks.Delivery, fields: dict[str, Any], using: str, keep_success: bool
    ) -> None:
        """Store an outcome (``fields`` of the message's row); raise if it could not be.

        This one updates the row a claim wrote (row mode), or that a delivery without a claim
        finds (an expired message).
        """
        try:
            with_retries(
                lambda: write_row(delivery, fields, using, keep_success, row_exists=True),
                using,
                delivery,
            )
        except BaseException:
            logger.warning(
                "The outcome of %s[%s] was not stored: its STARTED row holds the message "
                "for DJANGO_QSTASH_RESULTS_STARTED_LEASE = %s s",
                delivery.task_name,
                delivery.message_id,
                conf.STARTED_LEASE,
            )
            raise

    def release_leftovers(self) -> None:
        """Let go of what this thread's earlier deliveries still hold (called before a claim)."""

    def release_all(self) -> None:
        """Let go of everything this thread holds (tests, and a process that shuts down)."""


# ------------------------------------------------------------------------------ row contents


def from_timestamp(value: float) -> datetime.datetime:
    moment = datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    return moment if settings.USE_TZ else timezone.make_naive(moment)


def signature_expiry(delivery: hooks.Delivery) -> float:
    """Until when a token can be replayed: its ``exp`` plus the clock tolerance core allows."""
    if delivery.signature_expires is not None:
        return delivery.signature_expires + conf.CLOCK_TOLERANCE
    return time.time() + max(conf.STARTED_LEASE, 300.0)


def started(delivery: hooks.Delivery, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The fields of a row whose delivery has just started."""
    update: dict[str, Any] = {
        "task_name": delivery.task_name,
        "request_id": request_id(delivery),
        "status": TaskStatus.STARTED,
        "attempts": delivery.attempt,
        "date_started": now or timezone.now(),
        "date_done": None,
        "duration": None,
    }
    if delivery.schedule_id:
        update["schedule_id"] = delivery.schedule_id
    django_task = delivery.options.get("django_task")
    if isinstance(django_task, dict):  # what get_result() needs to rebuild the TaskResult
        update["django_task"] = django_task
    return update


def request_id(delivery: hooks.Delivery) -> str:
    """The message's Celery task id (set by ``retry()`` and by ``task_id=``) when it is not the
    message id, else "" (such rows stay out of the request_id index)."""
    value = str(delivery.options.get("task_id") or "")
    return "" if value == delivery.message_id else value


def new_row(delivery: hooks.Delivery, **fields: Any) -> dict[str, Any]:
    """Every field of a message's row that a delivery knows, then ``fields``."""
    row: dict[str, Any] = {
        "task_id": delivery.message_id,
        "request_id": request_id(delivery),
        "task_name": delivery.task_name,
        "args": delivery.args,
        "kwargs": delivery.kwargs,
        "attempts": delivery.attempt,
        "schedule_id": delivery.schedule_id or "",
    }
    row.update(fields)
    return row


def handled(status: str, republished: bool) -> bool:
    """The message needs no further run: it succeeded, or its task republished itself."""
    return status == TaskStatus.SUCCESS or (status == TaskStatus.RETRY and republished)


def signature_values(delivery: hooks.Delivery) -> dict[str, Any] | None:
    """The :class:`SeenSignature` row of this delivery's token, or None without a ``jti``."""
    if not delivery.signature_id:
        return None
    return {
        "jti": delivery.signature_id,
        "task_id": delivery.message_id,
        "expires_at": from_timestamp(signature_expiry(delivery)),
    }


# ------------------------------------------------------------------------------ statements


def _column(model: type[models.Model], name: str, quote: Callable[[str], str]) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return quote(str(field.column))


_look_up_sql: dict[str, str] = {}

#: (was this ``jti`` seen, [(status, republished)] of the message's row)
Found = tuple[bool, list[tuple[str, bool]]]


def look_up_statement(using: str, jti: str | None, message_id: str) -> tuple[str, list[Any]]:
    """The query :func:`look_up` runs, and its parameters (:func:`found_in` reads its rows)."""
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
    return sql, [jti or "", message_id]


def found_in(rows: Sequence[tuple[Any, ...]]) -> Found:
    return (
        any(kind == 1 for kind, _, _ in rows),
        [(status, bool(republished)) for kind, status, republished in rows if kind == 2],
    )


def look_up(using: str, jti: str | None, message_id: str) -> Found:
    """Was this ``jti`` seen, and the message's row, in one query."""
    sql, params = look_up_statement(using, jti, message_id)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return found_in(cursor.fetchall())


#: Databases whose INSERT ... ON CONFLICT (column) DO NOTHING / DO UPDATE ... EXCLUDED we use.
_UPSERT_VENDORS = frozenset({"sqlite", "postgresql"})

_upsert_sql: dict[tuple[Any, ...], tuple[str, list[models.Field[Any, Any]]]] = {}


def _upsert_statement(
    connection: Any, model: type[models.Model], conflict: str, update: Sequence[str]
) -> tuple[str, list[models.Field[Any, Any]]]:
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
    return cached


def _params(
    connection: Any, fields: list[models.Field[Any, Any]], values: dict[str, Any]
) -> list[Any]:
    return [
        f.get_db_prep_save(values[f.name] if f.name in values else f.get_default(), connection)
        for f in fields
    ]


def upsert(
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
    sql, fields = _upsert_statement(connection, model, conflict, update)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(connection, fields, values))
    return True


def outcome_statement(
    using: str, row: dict[str, Any], update: Sequence[str], signature: dict[str, Any] | None
) -> tuple[str, list[Any]] | None:
    """On PostgreSQL, one statement that inserts or updates the message's row (``row``;
    ``update`` names the fields a conflict updates) and remembers the token (``signature``, in a
    data-modifying ``WITH``): one round trip and, outside a transaction, one commit. None
    elsewhere."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    row_sql, row_fields = _upsert_statement(connection, TaskResult, "task_id", update)
    params = _params(connection, row_fields, row)
    if signature is None:
        return row_sql, params
    seen_sql, seen_fields = _upsert_statement(connection, SeenSignature, "jti", ())
    return f"WITH seen AS ({seen_sql}) {row_sql}", _params(connection, seen_fields, signature) + (
        params
    )


def upsert_outcome(
    using: str, row: dict[str, Any], update: Sequence[str], signature: dict[str, Any] | None
) -> bool:
    """What :func:`outcome_statement` does, in one transaction on any database with ``ON
    CONFLICT``; False on the others."""
    statement = outcome_statement(using, row, update, signature)
    if statement is not None:
        with connections[using].cursor() as cursor:
            cursor.execute(*statement)
        return True
    if connections[using].vendor not in _UPSERT_VENDORS:
        return False
    if signature is None:
        return upsert(using, TaskResult, row, conflict="task_id", update=update)
    with transaction.atomic(using=using):
        upsert(using, SeenSignature, signature, conflict="jti")
        return upsert(using, TaskResult, row, conflict="task_id", update=update)


# ------------------------------------------------------------------------------ writes


def remember_signature(
    delivery: hooks.Delivery, using: str, *, ignore_conflicts: bool = False
) -> None:
    """Store the delivery's ``jti``; a token seen before raises IntegrityError, unless
    ``ignore_conflicts``."""
    values = signature_values(delivery)
    if values is None:
        return
    if not ignore_conflicts:
        SeenSignature(**values).save(using=using, force_insert=True)
    elif not upsert(using, SeenSignature, values, conflict="jti"):
        SeenSignature.objects.using(using).bulk_create(
            [SeenSignature(**values)], ignore_conflicts=True
        )


def remember_received(jti: str, message_id: str, expires: float) -> bool:
    """Store the ``jti`` of a request a view of your own received (``@verify_qstash``), in its
    own transaction whatever the claim mode; False when it was stored before (a replay)."""
    seen = hooks.Delivery(
        message_id, "", [], {}, signature_id=jti, signature_expires=expires or None
    )
    using = router.db_for_write(SeenSignature)
    try:
        with transaction.atomic(using=using):
            remember_signature(seen, using)
    except IntegrityError:
        return False
    return True


def write_row(
    delivery: hooks.Delivery,
    fields: dict[str, Any],
    using: str,
    keep_success: bool,
    row_exists: bool,
    created: datetime.datetime | None = None,
) -> None:
    """Update the message's row with ``fields`` (``keep_success``: unless it is SUCCESS), or
    insert it when there is none."""
    rows = TaskResult.objects.using(using).filter(task_id=delivery.message_id)
    if keep_success:
        rows = rows.filter(status__in=NOT_SUCCESS)
    if row_exists and rows.update(**fields):
        return
    # No row yet, or it was deleted (cleanup ran while the task did), or (keep_success) an
    # other delivery already succeeded, which the INSERT below leaves untouched.
    try:
        with transaction.atomic(using=using):
            new = new_row(delivery, **fields)
            if created is not None:
                new["date_created"] = created
            TaskResult.objects.using(using).create(**new)
    except IntegrityError:
        if not row_exists:  # a row appeared meanwhile (a PENDING row from publishing)
            rows.update(**fields)


def with_retries(write: Callable[[], T], using: str, delivery: hooks.Delivery) -> T:
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
