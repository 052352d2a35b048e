"""``make soak``: the load test, longer and rougher. 10,000 deliveries from 8 publishing threads
to gunicorn (4 workers x 8 threads) on PostgreSQL with the results app, the dev server SIGKILLed
and restarted halfway; every task still runs exactly once. Opt-in (DJANGO_QSTASH_SOAK=1): never
part of the default run, the nox sessions or CI."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.reliability.conftest import SETTINGS
from tests.reliability.test_load import run_load

pytestmark = [
    pytest.mark.soak,
    pytest.mark.slow,
    pytest.mark.django_db,
    pytest.mark.skipif(
        os.environ.get("DJANGO_QSTASH_SOAK") != "1", reason="make soak (DJANGO_QSTASH_SOAK=1)"
    ),
    pytest.mark.timeout(1800),
]

SOAK_DELIVERIES = int(os.environ.get("DJANGO_QSTASH_SOAK_DELIVERIES", "10000"))


def test_soak(devserver_factory, django_server_factory, publish_via):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (make soak sets it)")
    devserver = devserver_factory("--quiet", "--max-in-flight", "64")
    server = django_server_factory(
        devserver,
        database="postgres",
        workers=4,
        threads=8,
        env={"DJANGO_SETTINGS_MODULE": SETTINGS},
    )
    publish_via(server)
    run_load(server, devserver, SOAK_DELIVERIES, "soak_", timeout=1500, publishers=8, crash=True)
