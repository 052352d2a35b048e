"""Takes task messages published inside a transaction: a row now, the publish after the commit."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import datetime

from django.db import connections, router, transaction
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
    created = OutboxMessage.objects.using(database).bulk_create(rows)
    # Each call has its own callback, which never raises: a failed publish leaves the rows for
    # the drain and cannot stop the other on-commit work (Django stops at the first exception).
    transaction.on_commit(
        functools.partial(relay.publish_after_commit, database, created), using=database
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
