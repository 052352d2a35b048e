"""As ``server_settings``, without the results app: core alone decides about redeliveries."""

from __future__ import annotations

from tests.reliability.server_settings import *  # noqa: F403
from tests.reliability.server_settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_qstash.results"]
