"""Count the runs of each schedule: the webhook's hooks say when a scheduled delivery finished.

A delivery QStash made for a schedule carries its ``Upstash-Schedule-Id``; its first attempt
counts as a run, and each attempt's outcome becomes the schedule's last run status. Deliveries
without a schedule id return at once, so other tasks pay for one attribute read.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils import timezone

from django_qstash import hooks
from django_qstash.schedules.models import TaskSchedule


def _record(delivery: hooks.Delivery, status: str) -> None:
    schedule_id = delivery.schedule_id
    if not schedule_id or delivery.is_eager:
        return
    changes: dict[str, Any] = {"last_run_at": timezone.now(), "last_run_status": status}
    if delivery.retried == 0:
        changes["run_count"] = F("run_count") + 1
    TaskSchedule.objects.filter(schedule_id=schedule_id).update(**changes)


def task_succeeded(sender: Any, delivery: hooks.Delivery, **kwargs: Any) -> None:
    _record(delivery, "SUCCESS")


def task_failed(sender: Any, delivery: hooks.Delivery, final: bool = True, **kwargs: Any) -> None:
    _record(delivery, "FAILURE" if final else "RETRY")


def task_retried(sender: Any, delivery: hooks.Delivery, **kwargs: Any) -> None:
    if kwargs.get("message_id"):  # retry() republished: this delivery is done
        _record(delivery, "RETRY")


def connect() -> None:
    hooks.task_succeeded.connect(task_succeeded, dispatch_uid="django_qstash.schedules.runs.ok")
    hooks.task_failed.connect(task_failed, dispatch_uid="django_qstash.schedules.runs.failed")
    hooks.task_retried.connect(task_retried, dispatch_uid="django_qstash.schedules.runs.retried")
