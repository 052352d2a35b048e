"""The sample project's settings with the outbox installed and its drain endpoint routed."""

from __future__ import annotations

import os

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_qstash.outbox"]
ROOT_URLCONF = "tests.outbox.urls"

# A test can turn the publisher's own retries off, to see the outbox's.
DJANGO_QSTASH_PUBLISH_RETRIES = int(os.environ.get("DJANGO_QSTASH_PUBLISH_RETRIES", "3"))
DJANGO_QSTASH_OUTBOX_BATCH_SIZE = int(os.environ.get("DJANGO_QSTASH_OUTBOX_BATCH_SIZE", "100"))
DJANGO_QSTASH_OUTBOX_WARN_AFTER = int(os.environ.get("DJANGO_QSTASH_OUTBOX_WARN_AFTER", "300"))
DJANGO_QSTASH_OUTBOX_KEEP = int(os.environ.get("DJANGO_QSTASH_OUTBOX_KEEP", "0"))
