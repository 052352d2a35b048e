"""Settings of the schedules app, read lazily through one ``conf`` object (core's pattern).

``DJANGO_QSTASH_SCHEDULES_AUTO_SYNC`` (default ``True``)
    Push a schedule to QStash after each save or delete commits. Turn it off (for example in
    your own test settings) to sync only on request: the admin's "sync now" action or
    ``python manage.py task_schedules --sync``.

``DJANGO_QSTASH_SCHEDULES_ID_PREFIX`` (default ``"djq-"``)
    The prefix of the QStash schedule ids this app generates (``djq-<32 hex digits>``).

``checks.py`` reports a malformed value as a system-check error.
"""

from __future__ import annotations

from typing import Any

from django_qstash.hooks import LazySettings, setting

DEFAULT_ID_PREFIX = "djq-"


def _as_is(value: Any) -> Any:
    # Kept as given: the system checks say what is wrong with a value of the wrong type.
    return value


class ScheduleSettings(LazySettings):
    #: As settings hold them: the system checks report a value of the wrong type.
    raw_auto_sync = setting("DJANGO_QSTASH_SCHEDULES_AUTO_SYNC", True, _as_is)
    raw_id_prefix = setting("DJANGO_QSTASH_SCHEDULES_ID_PREFIX", DEFAULT_ID_PREFIX, _as_is)

    @property
    def AUTO_SYNC(self) -> bool:
        return bool(self.raw_auto_sync)

    @property
    def ID_PREFIX(self) -> str:
        return str(self.raw_id_prefix)


conf = ScheduleSettings()
conf.connect("django_qstash.schedules.conf.clear_cache")
