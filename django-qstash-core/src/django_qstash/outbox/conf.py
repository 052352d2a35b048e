"""The outbox's settings, read lazily (see ``hooks.LazySettings``)."""

from __future__ import annotations

from typing import Any

from django_qstash.hooks import LazySettings, setting

DEFAULT_WARN_AFTER = 300  # seconds
DEFAULT_BATCH_SIZE = 100  # QStash's batch request takes up to 100 messages comfortably


def _at_least_one(value: Any) -> int:
    return max(1, int(value))


class OutboxSettings(LazySettings):
    #: Also go through the outbox outside a transaction (a row first, then the publish).
    ALWAYS = setting("DJANGO_QSTASH_OUTBOX_ALWAYS", False, bool)
    #: Seconds a published row is kept (0: deleted once QStash has the message).
    KEEP = setting("DJANGO_QSTASH_OUTBOX_KEEP", 0, int)
    #: The system check warns when an unpublished row is older than this (seconds).
    WARN_AFTER = setting("DJANGO_QSTASH_OUTBOX_WARN_AFTER", DEFAULT_WARN_AFTER, int)
    #: Rows a drain claims and publishes per batch request.
    BATCH_SIZE = setting("DJANGO_QSTASH_OUTBOX_BATCH_SIZE", DEFAULT_BATCH_SIZE, _at_least_one)


conf = OutboxSettings()
conf.connect("django_qstash.outbox.conf.clear_cache")
