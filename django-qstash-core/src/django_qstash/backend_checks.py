"""System checks of a ``TASKS`` entry that uses the QStash backend (``QStashBackend.check``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Error

from django_qstash.backend_options import BACKEND_OPTIONS, QUEUE_NAME, option_errors
from django_qstash.checks import check_settings
from django_qstash.store_registry import get_result_store


def check_backend(backend: Any) -> list[CheckMessage]:
    """Errors of one ``TASKS`` alias: the app, queue names, ``OPTIONS``."""
    messages: list[CheckMessage] = []
    label = f"TASKS[{backend.alias!r}]"
    if not apps.is_installed("django_qstash"):
        messages.append(
            Error(
                f"{label} uses QStashBackend, but 'django_qstash' is not in INSTALLED_APPS.",
                hint="Add 'django_qstash' to INSTALLED_APPS and include "
                "django_qstash.urls in your URLconf: the webhook runs the tasks.",
                id="django_qstash.E101",
            )
        )
        messages.extend(check_settings())
    bad_queues = sorted(q for q in backend.queues if not QUEUE_NAME.fullmatch(q))
    if bad_queues:
        messages.append(
            Error(
                f"{label}['QUEUES'] has names QStash cannot use as queue names: "
                f"{', '.join(map(repr, bad_queues))}.",
                hint="Use letters, digits, '.', '_' and '-' only.",
                id="django_qstash.E102",
            )
        )
    options = backend.options if isinstance(backend.options, Mapping) else {}
    unknown = sorted(set(options) - BACKEND_OPTIONS)
    if unknown:
        messages.append(
            Error(
                f"{label}['OPTIONS'] has unknown keys: {', '.join(map(repr, unknown))}.",
                hint=f"Known keys: {', '.join(sorted(BACKEND_OPTIONS))}.",
                id="django_qstash.E103",
            )
        )
    problems = option_errors({k: v for k, v in options.items() if k in BACKEND_OPTIONS})
    if problems:
        messages.append(
            Error(
                f"{label}['OPTIONS']: {'; '.join(problems)}.",
                hint="See docs/django-tasks.md for each option.",
                id="django_qstash.E104",
            )
        )
    if options.get("get_result") is True and not (
        get_result_store() is not None or apps.is_installed("django_qstash.results")
    ):
        messages.append(
            Error(
                f"{label}['OPTIONS']['get_result'] is True, but no result store is "
                "registered: results cannot be read.",
                hint="Add 'django_qstash.results' to INSTALLED_APPS, or remove the option.",
                id="django_qstash.E105",
            )
        )
    return messages
