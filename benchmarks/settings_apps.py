"""The benchmark settings with all three django-qstash apps (core, results, schedules)."""

from __future__ import annotations

from benchmarks.settings import *  # noqa: F403

INSTALLED_APPS = ["django_qstash", "django_qstash.results", "django_qstash.schedules"]
