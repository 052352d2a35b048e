"""Receivers that push TaskSchedule changes to QStash once the database transaction commits.

* ``post_save``: after commit, :func:`~django_qstash.schedules.sync.sync_schedule` upserts the
  QStash schedule (and pauses or resumes it). A rolled-back save sends nothing.
* ``post_delete``: a :class:`~django_qstash.schedules.models.ScheduleDeletion` is written in the
  same transaction, and after commit the QStash schedule is deleted and the record dropped; when
  QStash cannot be reached the record stays, and ``task_schedules --sync`` finishes the job.

``QuerySet.update()`` sends no signal: sync such rows explicitly (``sync.sync_queryset``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from django_qstash.schedules.conf import conf
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from django_qstash.schedules.suspension import is_suspended, sync_suspended

__all__ = ["connect", "schedule_deleted", "schedule_saved", "sync_suspended"]


def _sync_after_commit(pk: int) -> None:
    # Imported when a change is pushed: the QStash side is not needed by django.setup().
    from django_qstash.schedules.sync import sync_schedule

    sync_schedule(pk)


def _delete_after_commit(schedule_id: str) -> None:
    from django_qstash.schedules.sync import process_deletion

    process_deletion(schedule_id)


def schedule_saved(sender: Any, instance: TaskSchedule, raw: bool = False, **kwargs: Any) -> None:
    if raw or is_suspended() or not conf.AUTO_SYNC:
        return
    using = kwargs.get("using")
    transaction.on_commit(partial(_sync_after_commit, instance.pk), using=using)


def schedule_deleted(sender: Any, instance: TaskSchedule, **kwargs: Any) -> None:
    if is_suspended():
        return
    using = kwargs.get("using")
    ScheduleDeletion.objects.using(using).update_or_create(
        schedule_id=instance.schedule_id,
        defaults={"name": instance.name, "task_name": instance.task_name, "error": ""},
    )
    if conf.AUTO_SYNC:
        transaction.on_commit(partial(_delete_after_commit, instance.schedule_id), using=using)


def connect() -> None:
    post_save.connect(
        schedule_saved, sender=TaskSchedule, dispatch_uid="django_qstash_schedules.saved"
    )
    post_delete.connect(
        schedule_deleted, sender=TaskSchedule, dispatch_uid="django_qstash_schedules.deleted"
    )
