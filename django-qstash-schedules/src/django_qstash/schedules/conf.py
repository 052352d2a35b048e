"""Settings of the schedules app, read from ``django.conf.settings`` on every use.

``DJANGO_QSTASH_SCHEDULES_AUTO_SYNC`` (default ``True``)
    Push a schedule to QStash after each save or delete commits. Turn it off (for example in
    your own test settings) to sync only on request: the admin's "sync now" action or
    ``python manage.py task_schedules --sync``.

``DJANGO_QSTASH_SCHEDULES_ID_PREFIX`` (default ``"djq-"``)
    The prefix of the QStash schedule ids this app generates (``djq-<32 hex digits>``).
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_ID_PREFIX = "djq-"


def auto_sync() -> bool:
    return bool(getattr(settings, "DJANGO_QSTASH_SCHEDULES_AUTO_SYNC", True))


def id_prefix() -> str:
    return str(getattr(settings, "DJANGO_QSTASH_SCHEDULES_ID_PREFIX", DEFAULT_ID_PREFIX))
