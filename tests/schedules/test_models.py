"""TaskSchedule: fields, invariants save() enforces, full_clean() checks, the stable id."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from django_qstash.schedules.models import TaskSchedule
from tests.schedules.conftest import TASK, make_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_auto_sync")]


def test_defaults_and_stable_schedule_id():
    schedule = make_schedule(name="nightly")
    assert re.fullmatch(r"djq-[0-9a-f]{32}", schedule.schedule_id)
    assert schedule.is_active is True
    assert schedule.kwargs == {}
    assert schedule.args == ["key"]
    assert schedule.retries is None
    assert schedule.timeout is None
    assert schedule.queue == ""
    assert schedule.sync_state == "pending"
    assert schedule.needs_sync is True
    first_id = schedule.schedule_id
    schedule.cron = "0 1 * * *"
    schedule.save()
    schedule.refresh_from_db()
    assert schedule.schedule_id == first_id  # never changes: every sync upserts the same id
    assert str(schedule) == "nightly"


def test_name_is_unique():
    make_schedule(name="same")
    with pytest.raises(IntegrityError):
        make_schedule(name="same")


def test_save_refuses_an_invalid_cron_even_without_full_clean():
    with pytest.raises(ValidationError) as info:
        make_schedule(cron="61 * * * *")
    assert "minute" in str(info.value.message_dict["cron"])
    assert not TaskSchedule.objects.exists()


def test_save_refuses_an_unknown_zone_and_an_unregistered_task():
    with pytest.raises(ValidationError) as info:
        make_schedule(timezone="Mars/Olympus")
    assert "time zone" in str(info.value.message_dict["timezone"])
    with pytest.raises(ValidationError) as info:
        make_schedule(task_name="nope.tasks.missing")
    assert "No task named 'nope.tasks.missing' is registered" in str(info.value.message_dict)


def test_save_refuses_a_bad_queue_name():
    with pytest.raises(ValidationError) as info:
        make_schedule(queue="not a queue!")
    assert "queue" in info.value.message_dict


def test_cron_tz_prefix_is_split_into_the_timezone():
    schedule = make_schedule(cron="CRON_TZ=America/New_York 0 4 * * *")
    assert (schedule.cron, schedule.timezone) == ("0 4 * * *", "America/New_York")
    assert schedule.qstash_cron == "CRON_TZ=America/New_York 0 4 * * *"
    with pytest.raises(ValidationError, match="keep one"):
        make_schedule(cron="CRON_TZ=America/New_York 0 4 * * *", timezone="Europe/Berlin")


def test_full_clean_checks_arguments_against_the_task():
    schedule = TaskSchedule(name="x", task_name=TASK, cron="0 0 * * *", args=[], kwargs={})
    with pytest.raises(ValidationError) as info:
        schedule.full_clean()
    assert "missing a required argument: 'key'" in str(info.value.message_dict["args"])

    schedule.args, schedule.kwargs = ["k"], {"nope": 1}
    with pytest.raises(ValidationError, match="unexpected keyword argument 'nope'"):
        schedule.full_clean()

    schedule.args, schedule.kwargs = "not a list", []
    with pytest.raises(ValidationError) as info:
        schedule.full_clean()
    assert set(info.value.message_dict) == {"args", "kwargs"}

    schedule.args, schedule.kwargs = ["k"], {"value": {1, 2}}
    with pytest.raises(ValidationError, match="cannot be sent as JSON"):
        schedule.full_clean()

    schedule.args, schedule.kwargs = ["k"], {"value": 3}
    schedule.full_clean()


def test_blank_arguments_mean_none():
    schedule = TaskSchedule(
        name="blank", task_name="example.tasks.hello_world_redux", cron="0 0 * * *"
    )
    schedule.args = None
    schedule.kwargs = None
    schedule.clean_fields()
    assert schedule.args == []
    assert schedule.kwargs == {}


def test_save_with_update_fields_checks_only_those():
    schedule = make_schedule()
    TaskSchedule.objects.filter(pk=schedule.pk).update(task_name="gone.task")
    schedule.refresh_from_db()
    schedule.is_active = False
    schedule.save(update_fields=["is_active"])  # the task vanished, pausing still works
    schedule.refresh_from_db()
    assert schedule.is_active is False
    assert schedule.needs_sync is True
    with pytest.raises(ValidationError):
        schedule.save()


def test_cron_info_and_sync_state():
    schedule = make_schedule(cron="0 4 * * 1-5", timezone="Europe/Berlin")
    info = schedule.cron_info()
    assert info.description == "At 04:00, Monday through Friday (Europe/Berlin)"
    assert len(info.runs) == 5
    schedule.sync_error = "boom"
    assert schedule.sync_state == "failed"
    schedule.sync_error, schedule.needs_sync = "", False
    assert schedule.sync_state == "pending"  # never synced
    from django.utils import timezone

    schedule.last_synced_at = timezone.now()
    assert schedule.sync_state == "synced"
