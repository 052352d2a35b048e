"""The stores core consults: at most one result store and one chord store per process.

An app registers them in ``AppConfig.ready()`` (the results app does). What a store must do,
and the types core passes it, are declared in :mod:`django_qstash.store`; registering needs
none of that, so ``django.setup()`` does not import that module (its dataclasses cost more to
define than everything here). Re-exported by ``django_qstash.hooks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_qstash.store import ChordStore, ResultStore

_result_store: ResultStore | None = None
_chord_store: ChordStore | None = None


def register_result_store(store: ResultStore) -> None:
    global _result_store
    _result_store = store


def unregister_result_store() -> None:
    global _result_store
    _result_store = None


def get_result_store() -> ResultStore | None:
    return _result_store


def register_chord_store(store: ChordStore | None) -> None:
    """Register (``None``: unregister) the store chords count in."""
    global _chord_store
    _chord_store = store


def get_chord_store() -> ChordStore | None:
    return _chord_store
