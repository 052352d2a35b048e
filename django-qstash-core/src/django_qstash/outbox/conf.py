"""The outbox's settings, read lazily (see ``hooks.LazySettings``)."""

from __future__ import annotations

from django_qstash.hooks import LazySettings

DEFAULT_WARN_AFTER = 300  # seconds
DEFAULT_BATCH_SIZE = 100  # QStash's batch request takes up to 100 messages comfortably


class OutboxSettings(LazySettings):
    @property
    def ALWAYS(self) -> bool:
        """Also go through the outbox outside a transaction (a row first, then the publish)."""
        return self._get("DJANGO_QSTASH_OUTBOX_ALWAYS", False, bool)

    @property
    def KEEP(self) -> int:
        """Seconds a published row is kept (0: deleted once QStash has the message)."""
        return self._get("DJANGO_QSTASH_OUTBOX_KEEP", 0, int)

    @property
    def WARN_AFTER(self) -> int:
        """The system check warns when an unpublished row is older than this (seconds)."""
        return self._get("DJANGO_QSTASH_OUTBOX_WARN_AFTER", DEFAULT_WARN_AFTER, int)

    @property
    def BATCH_SIZE(self) -> int:
        """Rows a drain claims and publishes per batch request."""
        return max(1, self._get("DJANGO_QSTASH_OUTBOX_BATCH_SIZE", DEFAULT_BATCH_SIZE, int))


conf = OutboxSettings()
conf.connect("django_qstash.outbox.conf.clear_cache")
