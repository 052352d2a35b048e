"""Test settings: the sample project's, plus small apps that exercise task discovery."""

from __future__ import annotations

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps.pkgtasks", "tests.apps.elsewhere"]

# Tests never reach a real QStash by accident: anything that publishes must point QSTASH_URL at a
# loopback server of the test's own (the recorder, or the dev server).
QSTASH_URL = "http://127.0.0.1:9"
DJANGO_QSTASH_PUBLISH_RETRIES = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
