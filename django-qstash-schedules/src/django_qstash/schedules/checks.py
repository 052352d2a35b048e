"""System checks of the schedules app's settings. Ids are stable; each carries its fix."""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import CheckMessage, Error

from django_qstash.schedules.conf import conf

#: What a QStash schedule id may hold (the generated part is 32 hex digits).
_ID_PREFIX = r"[A-Za-z0-9._-]{0,64}"  # compiled (and cached) by re on first use


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    auto_sync = conf.raw_auto_sync
    if not isinstance(auto_sync, bool):
        errors.append(
            Error(
                f"DJANGO_QSTASH_SCHEDULES_AUTO_SYNC must be True or False, not {auto_sync!r}.",
                hint="Set it to True (push each saved schedule) or False (sync on request).",
                id="django_qstash_schedules.E001",
            )
        )
    prefix = conf.raw_id_prefix
    if not isinstance(prefix, str) or not re.fullmatch(_ID_PREFIX, prefix):
        errors.append(
            Error(
                f"DJANGO_QSTASH_SCHEDULES_ID_PREFIX must be a short string of letters, digits, "
                f"'.', '_' and '-', not {prefix!r}.",
                hint='Use the default "djq-" or a prefix such as "myapp-" (at most 64 '
                "characters): it starts every QStash schedule id this app creates.",
                id="django_qstash_schedules.E002",
            )
        )
    return errors
