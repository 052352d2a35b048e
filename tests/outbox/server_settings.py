"""The sample project's settings with the outbox installed and its drain endpoint routed."""

from __future__ import annotations

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_qstash.outbox"]
ROOT_URLCONF = "tests.outbox.urls"
