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

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash.conf import conf
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
    url = conf.QSTASH_URL
    if url:
        parts = urllib.parse.urlsplit(str(url))
        if parts.hostname in _LOOPBACK:
            host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
            argv += ["--host", host]
            # Port 0 is a port too (a free one), not "unset".
            if parts.port is not None:
                argv += ["--port", str(parts.port)]
    for value, flag in (
        (conf.QSTASH_TOKEN, "--token"),
        (conf.QSTASH_CURRENT_SIGNING_KEY, "--current-signing-key"),
        (conf.QSTASH_NEXT_SIGNING_KEY, "--next-signing-key"),
    ):
        if value:
            argv += [flag, value]
    fast = conf.DEV_FAST_RETRIES
    if isinstance(fast, bool):
        if fast:
            argv.append("--fast-retries")
    elif fast is not None:
        argv += ["--retry-scale", str(fast)]
    tick = conf.DEV_CRON_TICK
    if tick:
        argv += ["--cron-tick", str(tick)]
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
