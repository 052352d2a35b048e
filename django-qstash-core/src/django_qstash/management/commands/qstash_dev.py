"""``python manage.py qstash_dev``: run the local QStash dev server for this project.

A thin wrapper around ``python -m django_qstash.devserver`` with the same flags. Defaults come
from settings so the project works unchanged: host and port from a loopback ``QSTASH_URL``, the
token and signing keys from ``QSTASH_TOKEN`` / ``QSTASH_*_SIGNING_KEY`` when set, and the
dev-only ``DJANGO_QSTASH_DEV_FAST_RETRIES`` (a bool, or a retry-wait scale factor) and
``DJANGO_QSTASH_DEV_CRON_TICK`` (seconds one cron minute lasts). Flags win over settings.
"""

from __future__ import annotations

import sys
import urllib.parse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash.devserver.__main__ import (
    OPTION_NAMES,
    add_arguments,
    build_parser,
    config_from_args,
    run,
)

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def settings_argv() -> list[str]:
    """The dev server flags this project's settings imply."""
    argv: list[str] = []
    url = getattr(settings, "QSTASH_URL", None)
    if url:
        parts = urllib.parse.urlsplit(str(url))
        if parts.hostname in _LOOPBACK:
            host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
            argv += ["--host", host]
            # Port 0 is a port too (a free one), not "unset".
            if parts.port is not None:
                argv += ["--port", str(parts.port)]
    for setting, flag in (
        ("QSTASH_TOKEN", "--token"),
        ("QSTASH_CURRENT_SIGNING_KEY", "--current-signing-key"),
        ("QSTASH_NEXT_SIGNING_KEY", "--next-signing-key"),
    ):
        value = getattr(settings, setting, None)
        if value:
            argv += [flag, str(value)]
    fast = getattr(settings, "DJANGO_QSTASH_DEV_FAST_RETRIES", None)
    if isinstance(fast, bool):
        if fast:
            argv.append("--fast-retries")
    elif fast is not None:
        argv += ["--retry-scale", str(float(fast))]
    tick = getattr(settings, "DJANGO_QSTASH_DEV_CRON_TICK", None)
    if tick:
        argv += ["--cron-tick", str(float(tick))]
    return argv


class Command(BaseCommand):
    help = (
        "Run the local QStash-compatible dev server (python -m django_qstash.devserver), "
        "configured from this project's settings."
    )
    # The dev server needs neither Django's system checks nor the database.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add_arguments(parser, suppress_defaults=True)

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = build_parser().parse_args(settings_argv())
        for name in OPTION_NAMES & options.keys():
            setattr(namespace, name, options[name])
        status = run(config_from_args(namespace), out=sys.stdout)
        if status:
            raise CommandError("the QStash dev server could not start", returncode=status)
