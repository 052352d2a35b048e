"""SQLite persistence: messages, schedules, queues, URL groups, the DLQ, logs and keys.

Each resource's tables have their own module; :class:`Store` is all of them on one connection.
"""

from __future__ import annotations

from django_qstash.devserver.store.messages import MessageTables
from django_qstash.devserver.store.outcomes import OutcomeTables
from django_qstash.devserver.store.records import DlqEntry, Queue, Schedule, StoredMessage, Topic
from django_qstash.devserver.store.resources import ResourceTables

__all__ = ["DlqEntry", "Queue", "Schedule", "Store", "StoredMessage", "Topic"]


class Store(MessageTables, OutcomeTables, ResourceTables):
    """Every table of the dev server on one shared connection."""
