"""The signing-key pair: kept in the database so a rotation survives a restart."""

from __future__ import annotations

import threading

from django_qstash.devserver.credentials import DEFAULT_CREDENTIALS, new_signing_key
from django_qstash.devserver.store import Store


class KeyRing:
    def __init__(
        self, store: Store, current: str | None = None, next_key: str | None = None
    ) -> None:
        self._store = store
        self._lock = threading.Lock()
        stored_current = store.get_meta("current_signing_key")
        stored_next = store.get_meta("next_signing_key")
        self.current = current or stored_current or DEFAULT_CREDENTIALS.current_signing_key
        self.next = next_key or stored_next or DEFAULT_CREDENTIALS.next_signing_key
        if (self.current, self.next) != (stored_current, stored_next):
            self._save()

    def _save(self) -> None:
        self._store.set_meta("current_signing_key", self.current)
        self._store.set_meta("next_signing_key", self.next)

    def pair(self) -> tuple[str, str]:
        with self._lock:
            return self.current, self.next

    def rotate(self) -> tuple[str, str]:
        """The next key becomes the current one and a fresh next key is made, as in QStash."""
        with self._lock:
            self.current, self.next = self.next, new_signing_key()
            self._save()
            return self.current, self.next
