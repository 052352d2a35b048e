"""System checks. Ids are stable; each message carries its fix in the hint.

A missing token, signing key or domain is a warning (W002-W004) by default and an error
(E001-E003) under ``manage.py check --deploy``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Error, Warning

from django_qstash.conf import conf

_CANNOT_PUBLISH = "tasks cannot be published (.delay() raises ImproperlyConfigured)"

#: The settings a project needs before it can publish or verify deliveries: (names, warning id,
#: error id under ``check --deploy``, what fails without them, the fix). Missing ones are only
#: warnings, so that ``migrate``, ``collectstatic`` and a Docker build run without secrets; the
#: first ``.delay()`` without them raises, saying what to set.
_REQUIRED: list[tuple[tuple[str, ...], str, str, str, str]] = [
    (
        ("QSTASH_TOKEN",),
        "W002",
        "E001",
        _CANNOT_PUBLISH,
        "Set QSTASH_TOKEN to your QStash token (Upstash console), or run "
        "`python -m django_qstash.devserver` and use the token it prints.",
    ),
    (
        ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"),
        "W003",
        "E002",
        "the webhook cannot verify deliveries and refuses them",
        "Copy both signing keys from the Upstash console or the dev server output.",
    ),
    (
        ("DJANGO_QSTASH_DOMAIN",),
        "W004",
        "E003",
        _CANNOT_PUBLISH,
        "Set it to the public origin QStash delivers to, e.g. "
        "DJANGO_QSTASH_DOMAIN = 'https://example.com' (http://127.0.0.1:8000 with the "
        "dev server).",
    ),
]


def _missing_settings(*, deploy: bool) -> list[CheckMessage]:
    values = {
        "QSTASH_TOKEN": conf.QSTASH_TOKEN,
        "QSTASH_CURRENT_SIGNING_KEY": conf.QSTASH_CURRENT_SIGNING_KEY,
        "QSTASH_NEXT_SIGNING_KEY": conf.QSTASH_NEXT_SIGNING_KEY,
        "DJANGO_QSTASH_DOMAIN": conf.DOMAIN,
    }
    messages: list[CheckMessage] = []
    for names, warning_id, error_id, consequence, hint in _REQUIRED:
        missing = [name for name in names if not values[name]]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            msg = f"{' and '.join(missing)} {verb} not set: {consequence}."
            level = Error if deploy else Warning
            messages.append(
                level(msg, hint=hint, id=f"django_qstash.{error_id if deploy else warning_id}")
            )
    return messages


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    errors = _missing_settings(deploy=False)
    domain = conf.DOMAIN
    if domain:
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


def check_deploy_settings(**kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: a site that is deployed must be able to publish and verify."""
    return _missing_settings(deploy=True)


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
