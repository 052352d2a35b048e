"""Test settings: the sample project's, plus small apps that exercise task discovery."""

from __future__ import annotations

import django
from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "tests.apps.pkgtasks",
    "tests.apps.elsewhere",
    "tests.apps.djangotasks",
    "tests.apps.workflowapp",
]

# Tests never reach a real QStash by accident: anything that publishes must point QSTASH_URL at a
# loopback server of the test's own (the recorder, or the dev server).
QSTASH_URL = "http://127.0.0.1:9"
DJANGO_QSTASH_PUBLISH_RETRIES = 0
# The sample project turns PENDING rows on for its users; the suite's tests say when they want them.
DJANGO_QSTASH_RESULTS_STORE_PENDING = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if django.VERSION >= (6, 1):
    # Mail goes through MAILERS from Django 6.1 (the test runner swaps in locmem); without one,
    # every send_mail() of the Tasks documentation's examples warns.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import os
    import tempfile

    # A file, not pytest-django's in-memory database: a live server's threads then get connections
    # of their own, as a real server's workers do, instead of interleaving their transactions on
    # the test thread's connection (which made on_commit() fail at random in the docs tests).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"django-qstash-tests-{os.getpid()}.sqlite3")
    }
