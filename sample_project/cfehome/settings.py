"""Settings of the sample project, read from the environment (and a .env file) by django-environ.

Every variable is listed, with a comment, in ../.env.sample. The defaults run the whole loop on
this machine: SQLite and the local dev server (`python -m django_qstash.devserver`).
"""

from __future__ import annotations

import warnings
from importlib.util import find_spec
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# The official dev server's public user-1 credentials (also the django-qstash dev server's).
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="django-insecure-sample-project-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# example/celery_app_style.py keeps Celery-only task options on purpose, to show they are
# tolerated; their CeleryOptionIgnored warnings are silenced the documented way (docs/celery.md).
warnings.filterwarnings("ignore", message=r"example\.celery_app_style\.", category=UserWarning)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_qstash",
    "django_qstash.results",
    "django_qstash.schedules",
    "example",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cfehome.urls"
WSGI_APPLICATION = "cfehome.wsgi.application"
ASGI_APPLICATION = "cfehome.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"

# ---------------------------------------------------------------- QStash (the qstash SDK)
QSTASH_TOKEN = env.str("QSTASH_TOKEN", default=DEV_TOKEN)
QSTASH_CURRENT_SIGNING_KEY = env.str("QSTASH_CURRENT_SIGNING_KEY", default=DEV_CURRENT_SIGNING_KEY)
QSTASH_NEXT_SIGNING_KEY = env.str("QSTASH_NEXT_SIGNING_KEY", default=DEV_NEXT_SIGNING_KEY)
QSTASH_URL = env.str("QSTASH_URL", default="http://127.0.0.1:8080")

# ---------------------------------------------------------------- django-qstash
DJANGO_QSTASH_DOMAIN = env.str("DJANGO_QSTASH_DOMAIN", default="http://127.0.0.1:8000")
DJANGO_QSTASH_WEBHOOK_PATH = env.str("DJANGO_QSTASH_WEBHOOK_PATH", default="/qstash/webhook/")
DJANGO_QSTASH_FORCE_HTTPS = env.bool("DJANGO_QSTASH_FORCE_HTTPS", default=False)
DJANGO_QSTASH_RESULT_TTL = env.int("DJANGO_QSTASH_RESULT_TTL", default=604800)
DJANGO_QSTASH_ALWAYS_EAGER = env.bool("DJANGO_QSTASH_ALWAYS_EAGER", default=False)

# ---------------------------------------------------------------- django-qstash results app
# On here, so a task published from any shell (a countdown, say) has its PENDING row at once.
DJANGO_QSTASH_RESULTS_STORE_PENDING = env.bool("DJANGO_QSTASH_RESULTS_STORE_PENDING", default=True)

# ---------------------------------------------------------------- django.tasks
# @task functions run through QStash as well (django-qstash-core/docs/django-tasks.md). Django 6.0+
# has django.tasks; on Django 5.2 the django-tasks backport provides it and must be installed as
# an app. With neither, nothing reads TASKS.
if find_spec("django.tasks") is None and find_spec("django_tasks") is not None:
    INSTALLED_APPS.append("django_tasks")
TASKS = {
    "default": {
        "BACKEND": "django_qstash.backends.QStashBackend",
        # "default" publishes directly; any other name is a QStash queue (FIFO).
        "QUEUES": ["default", "emails"],
        # Defaults for every task: max_retries, retry_delay, timeout, label, ...
        "OPTIONS": {},
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Worker-style lines on the console: a task starting, succeeding, retried, failing for good.
    "formatters": {
        "worker": {"format": "[%(asctime)s: %(levelname)s/%(name)s] %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "worker"}},
    "loggers": {
        "django_qstash": {"handlers": ["console"], "level": env.str("QSTASH_LOG_LEVEL", "INFO")},
    },
}
