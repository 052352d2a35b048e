"""Shared pytest configuration. Reusable fixtures live in tests/support/ and are loaded here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from django_qstash import hooks

pytest_plugins = [
    "tests.support.signing",
    "tests.support.recorder",
    "tests.support.devserver",
    "tests.support.liveserver",
    "tests.support.interceptor",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # PostgreSQL-only tests run when DATABASE_URL points the test run at PostgreSQL
    # (`make test-postgres`); on the default SQLite run they are skipped, saying why.
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs DATABASE_URL=postgres://... (make test-postgres)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def no_result_store() -> Iterator[None]:
    """Core alone: no results app store (the webhook then needs no database)."""
    store = hooks.get_result_store()
    chords = hooks.get_chord_store()
    hooks.unregister_result_store()
    hooks.register_chord_store(None)
    try:
        yield
    finally:
        if store is not None:
            hooks.register_result_store(store)
        hooks.register_chord_store(chords)
