"""Shared pytest configuration. Reusable fixtures live in tests/support/ and are loaded here."""

from __future__ import annotations

import pytest
from django.db import connection

pytest_plugins = [
    "tests.support.signing",
    "tests.support.recorder",
    "tests.support.devserver",
    "tests.support.liveserver",
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
