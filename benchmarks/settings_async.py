"""The benchmark settings, routing to the async publishing views."""

from __future__ import annotations

from benchmarks.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls_async"
DJANGO_QSTASH_PUBLISH_RETRIES = 0
