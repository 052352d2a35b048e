"""Minimal settings for the core benchmarks: django_qstash alone, plus a bare JSON view."""

from __future__ import annotations

SECRET_KEY = "benchmark"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django_qstash"]
ROOT_URLCONF = "benchmarks.urls"
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE: list[str] = []
USE_TZ = True
QSTASH_TOKEN = "benchmark-token"
QSTASH_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
QSTASH_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
DJANGO_QSTASH_DOMAIN = "http://127.0.0.1:8000"
DJANGO_QSTASH_FORCE_HTTPS = False
LOGGING_CONFIG = None
