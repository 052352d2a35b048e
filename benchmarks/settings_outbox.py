"""The core benchmark settings plus the outbox, on a SQLite file (or DATABASE_URL's PostgreSQL)."""

from __future__ import annotations

import os
import tempfile

from benchmarks.settings import *  # noqa: F403

INSTALLED_APPS = ["django_qstash", "django_qstash.outbox"]
_url = os.environ.get("DATABASE_URL", "")
if _url.startswith(("postgres://", "postgresql://")):
    _rest = _url.split("://", 1)[1]
    _user, _, _hostpart = _rest.rpartition("@")
    _hostport, _, _name = _hostpart.partition("/")
    _host, _, _port = _hostport.partition(":")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _name,
            "USER": _user or "postgres",
            "HOST": _host,
            "PORT": _port or "5432",
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.mkdtemp(prefix="djq-outbox-bench-"), "db.sqlite3"),
        }
    }
