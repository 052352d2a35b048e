"""System checks of the results app's settings. Ids are stable; each error carries its fix."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning
from django.core.exceptions import ImproperlyConfigured

from django_qstash.results.conf import SETTINGS, conf

#: Stable ids of malformed settings (the id of a setting never changes when others are added).
#: DJANGO_QSTASH_RESULT_TTL and DJANGO_QSTASH_CLOCK_TOLERANCE are core's, and core's to check.
SETTING_IDS = {
    "CLAIM_MODE": "django_qstash_results.E001",
    "STARTED_LEASE": "django_qstash_results.E002",
    "WRITE_RETRIES": "django_qstash_results.E003",
    "DELETE_BATCH_SIZE": "django_qstash_results.E004",
    "TRACK_STARTED": "django_qstash_results.E005",
    "STORE_PENDING": "django_qstash_results.E006",
}

_HINTS = {
    "CLAIM_MODE": "Use 'auto' (the default), 'lock' or 'row'; see the results app's README, "
    "'How a delivery is claimed'.",
    "STARTED_LEASE": "Seconds >= 0, longer than your longest task (default 900).",
    "WRITE_RETRIES": "A whole number >= 0 (default 2).",
    "DELETE_BATCH_SIZE": "A whole number >= 1 (default 10000).",
    "TRACK_STARTED": "Use True or False (a string such as 'False' would count as true).",
    "STORE_PENDING": "Use True or False (a string such as 'False' would count as true).",
}

#: Where the lock claim mode takes its locks in the database itself.
_DATABASE_LOCK_VENDORS = frozenset({"sqlite", "postgresql"})


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for key, check_id in SETTING_IDS.items():
        try:
            conf.convert(key, conf.raw(key))
        except ImproperlyConfigured as exc:
            messages.append(Error(str(exc), hint=_HINTS[key], id=check_id))
    messages.extend(_check_lock_mode_databases(kwargs.get("databases")))
    return messages


def _check_lock_mode_databases(databases: Any) -> list[CheckMessage]:
    """``lock`` forced on a database that cannot take the locks itself: host-wide locks only."""
    try:
        mode = conf.CLAIM_MODE
    except ImproperlyConfigured:
        return []  # reported above
    if mode != "lock":
        return []
    from django.db import connections, router

    from django_qstash.results.models import TaskResult
    from django_qstash.results.store import pooled

    alias = router.db_for_write(TaskResult)
    connection = connections[alias]
    vendor = connection.vendor
    if vendor == "postgresql" and pooled(connection):
        return [
            Warning(
                f"{SETTINGS['CLAIM_MODE'].name} = 'lock' on the PostgreSQL database {alias!r}, "
                "which uses Django's connection pool: advisory locks a request still holds would "
                "go back to the pool with its connection.",
                hint="Use 'auto' (row mode with a pool) or 'row', or drop OPTIONS['pool'].",
                id="django_qstash_results.W002",
            )
        ]
    if vendor in _DATABASE_LOCK_VENDORS:
        return []
    return [
        Warning(
            f"{SETTINGS['CLAIM_MODE'].name} = 'lock' on the {vendor} database {alias!r}: its "
            "locks are host-wide files, so deliveries of one message on two hosts can both run.",
            hint="Serve the webhook from one host, or use 'auto' / 'row' (row mode works "
            "across hosts on every database).",
            id="django_qstash_results.W001",
        )
    ]
