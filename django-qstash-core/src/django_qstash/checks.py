"""System checks. Ids are stable; each error carries its fix in the hint."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Warning

from django_qstash.conf import conf


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    if not conf.QSTASH_TOKEN:
        errors.append(
            Error(
                "QSTASH_TOKEN is not set.",
                hint="Set QSTASH_TOKEN to your QStash token (Upstash console), or run "
                "`python -m django_qstash.devserver` and use the token it prints.",
                id="django_qstash.E001",
            )
        )
    missing = [
        name
        for name in ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY")
        if not getattr(conf, name)
    ]
    if missing:
        errors.append(
            Error(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: "
                "the webhook cannot verify deliveries.",
                hint="Copy both signing keys from the Upstash console or the dev server output.",
                id="django_qstash.E002",
            )
        )
    domain = conf.DOMAIN
    if not domain:
        errors.append(
            Error(
                "DJANGO_QSTASH_DOMAIN is not set.",
                hint="Set it to the public origin QStash delivers to, e.g. "
                "DJANGO_QSTASH_DOMAIN = 'https://example.com' (http://127.0.0.1:8000 with the "
                "dev server).",
                id="django_qstash.E003",
            )
        )
    else:
        parts = urlsplit(str(domain))
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            errors.append(
                Error(
                    f"DJANGO_QSTASH_DOMAIN {domain!r} is not an absolute http(s) origin.",
                    hint="Use scheme and host only, e.g. 'https://example.com'; put the path in "
                    "DJANGO_QSTASH_WEBHOOK_PATH.",
                    id="django_qstash.E004",
                )
            )
        elif parts.scheme == "http" and conf.FORCE_HTTPS:
            errors.append(
                Warning(
                    f"DJANGO_QSTASH_DOMAIN {domain!r} is http but DJANGO_QSTASH_FORCE_HTTPS is "
                    "True, so QStash is told to deliver to https.",
                    hint="For a local dev server set DJANGO_QSTASH_FORCE_HTTPS = False; in "
                    "production use an https domain.",
                    id="django_qstash.W001",
                )
            )
    path = conf.WEBHOOK_PATH
    if not path.startswith("/"):
        errors.append(
            Error(
                f"DJANGO_QSTASH_WEBHOOK_PATH {path!r} must start with '/'.",
                hint="For example DJANGO_QSTASH_WEBHOOK_PATH = '/qstash/webhook/'.",
                id="django_qstash.E005",
            )
        )
    return errors


def check_webhook_route(**kwargs: Any) -> list[CheckMessage]:
    from django.urls import Resolver404, resolve

    from django_qstash.views import qstash_webhook_view

    path = conf.WEBHOOK_PATH
    if not path.startswith("/"):
        return []  # E005 already says so
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    if match is None or match.func is not qstash_webhook_view:
        return [
            Error(
                f"DJANGO_QSTASH_WEBHOOK_PATH {path!r} is not routed to the django-qstash webhook.",
                hint=f"Add path({path.lstrip('/')!r}, include('django_qstash.urls')) to your "
                "ROOT_URLCONF, or set DJANGO_QSTASH_WEBHOOK_PATH to where you included it.",
                id="django_qstash.E006",
            )
        ]
    return []
