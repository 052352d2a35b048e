"""``django_qstash_outbox.W001``: messages have waited in the outbox longer than they should."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core import checks
from django.db import DatabaseError
from django.utils import timezone

from django_qstash.outbox.conf import conf
from django_qstash.outbox.models import OutboxMessage


def check_waiting_rows(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    # A database check: run by migrate and `manage.py check --database default`.
    if not databases:
        return []
    cutoff = timezone.now() - timedelta(seconds=conf.WARN_AFTER)
    found: list[checks.CheckMessage] = []
    for database in databases:
        try:
            waiting = (
                OutboxMessage.objects.using(database)
                .filter(published_at__isnull=True, created_at__lt=cutoff)
                .count()
            )
        except DatabaseError:
            continue  # not migrated yet
        if waiting:
            found.append(
                checks.Warning(
                    f"{waiting} outbox message(s) in database {database!r} have waited more "
                    f"than {conf.WARN_AFTER} s to be published to QStash.",
                    hint="Run `python manage.py drain_outbox --once` and read its errors; set "
                    "up the drain schedule with `python manage.py drain_outbox --schedule`.",
                    id="django_qstash_outbox.W001",
                )
            )
    return found


def register() -> None:
    checks.register(check_waiting_rows, checks.Tags.database)
