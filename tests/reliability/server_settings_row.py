"""The reliability settings, with the results app claiming deliveries by row (a committed
STARTED row and a lease) instead of by lock."""

from __future__ import annotations

from tests.reliability.server_settings import *  # noqa: F403

DJANGO_QSTASH_RESULTS_CLAIM_MODE = "row"
