"""The startup baseline: the benchmark settings without django_qstash."""

from __future__ import annotations

from benchmarks.settings import *  # noqa: F403

INSTALLED_APPS: list[str] = []
ROOT_URLCONF = "benchmarks.urls_bare"
