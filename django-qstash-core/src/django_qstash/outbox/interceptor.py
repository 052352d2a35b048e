"""Takes task messages published inside a transaction: a row now, the publish after the commit."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Field
from django.utils import timezone

from django_qstash.hooks import PreparedMessage
from django_qstash.outbox import relay
from django_qstash.outbox.conf import conf
from django_qstash.outbox.models import OutboxMessage


def intercept(messages: Sequence[PreparedMessage]) -> list[str] | None:
    """The outbox's publish interceptor: None (publish now) outside a transaction unless
    DJANGO_QSTASH_OUTBOX_ALWAYS; otherwise the rows' deduplication ids, which the results get."""
    database = router.db_for_write(OutboxMessage)
    if not connections[database].in_atomic_block and not conf.ALWAYS:
        return None
    # Leased to this process from the start: after the commit it publishes them without a
    # claim of its own (no statement, no commit); a drainer takes them only once the lease is
    # over. One INSERT, and nothing else, in your transaction.
    until = timezone.now() + relay.COMMIT_LEASE
    rows = [_row(prepared, until) for prepared in messages]
    _insert(database, rows)
    # Each call has its own callback, which never raises: a failed publish leaves the rows for
    # the drain and cannot stop the other on-commit work (Django stops at the first exception).
    transaction.on_commit(
        functools.partial(relay.publish_after_commit, database, rows), using=database
    )
    return [row.deduplication_id for row in rows]


def _row(prepared: PreparedMessage, until: datetime) -> OutboxMessage:
    data = prepared.to_dict()
    options = data["options"]
    deduplication_id = options.get("deduplication_id")
    if not deduplication_id and not options.get("content_based_deduplication"):
        deduplication_id = options["deduplication_id"] = f"outbox-{os.urandom(16).hex()}"
    return OutboxMessage(
        message=data,
        task_name=prepared.task_name,
        deduplication_id=deduplication_id or "",
        claimed_until=until,
        attempts=1,
    )


#: The columns the interceptor writes (``published_at`` stays NULL; the others have no default
#: in the database).
_COLUMNS = (
    "message",
    "task_name",
    "deduplication_id",
    "created_at",
    "available_at",
    "attempts",
    "last_error",
    "claim",
    "claimed_until",
    "message_id",
)
_FIELDS: list[Field[Any, Any]] = [
    field for name in _COLUMNS if isinstance(field := OutboxMessage._meta.get_field(name), Field)
]


def _insert(database: str, rows: list[OutboxMessage]) -> None:
    """What ``bulk_create(rows)`` does, as one ``INSERT ... RETURNING`` whose SQL is built once
    per backend and row count: compiling the query each call was a third of the interceptor's
    time. Values go through each field's ``get_db_prep_save``, as with the ORM."""
    connection = connections[database]
    if (
        connection.vendor not in _RETURNING
        or not connection.features.can_return_rows_from_bulk_insert
        or len(rows) > _MAX_ROWS
    ):
        # Other backends, and big groups (bulk_create splits them to the backend's limits).
        OutboxMessage.objects.using(database).bulk_create(rows)
        return
    now = timezone.now()
    params: list[Any] = []
    for row in rows:
        row.created_at = row.available_at = now
        params.extend(
            field.get_db_prep_save(getattr(row, field.attname), connection) for field in _FIELDS
        )
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor, len(rows)), params)
        # Ids grow in the order of the VALUES (SQLite does not promise RETURNING's order).
        pks = sorted(row[0] for row in cursor.fetchall())
    for row, pk in zip(rows, pks, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = database


_RETURNING = ("postgresql", "sqlite")
_MAX_ROWS = 100


@functools.lru_cache(maxsize=_MAX_ROWS)
def _insert_sql(vendor: str, count: int) -> str:
    # Both backends of _RETURNING quote names with double quotes.
    columns = ", ".join(f'"{field.column}"' for field in _FIELDS)
    values = "(" + ", ".join(["%s"] * len(_FIELDS)) + ")"
    return (
        f'INSERT INTO "{OutboxMessage._meta.db_table}" ({columns}) '
        f'VALUES {", ".join([values] * count)} RETURNING "id"'
    )
