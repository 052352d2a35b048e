"""What mypy's Django plugin loads: the sample project with every optional app installed (the
outbox too, which the sample project leaves out), so that all models are known."""

from __future__ import annotations

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_qstash.outbox"]
