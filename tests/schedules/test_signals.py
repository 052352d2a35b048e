"""Saves and deletes reach QStash only after the transaction commits."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings

from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from django_qstash.schedules.signals import sync_suspended
from tests.schedules.conftest import WEBHOOK, make_schedule, schedule_calls

pytestmark = pytest.mark.django_db

CREATE = ("POST", f"/v2/schedules/{WEBHOOK}")


def test_save_syncs_after_commit_not_before(fake_qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        schedule = make_schedule()
        assert fake_qstash.requests == []  # still inside the transaction
    assert len(callbacks) == 1
    assert schedule_calls(fake_qstash) == [CREATE]
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced"


def test_a_rolled_back_save_sends_nothing(fake_qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                make_schedule(name="rolled back")
                raise RuntimeError("abort")
        except RuntimeError:
            pass
    assert callbacks == []
    assert fake_qstash.requests == []
    assert not TaskSchedule.objects.filter(name="rolled back").exists()


def test_deactivate_and_activate_through_save(fake_qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    with django_capture_on_commit_callbacks(execute=True):
        schedule.is_active = False
        schedule.save()
    with django_capture_on_commit_callbacks(execute=True):
        schedule.is_active = True
        schedule.save()
    sid = schedule.schedule_id
    assert schedule_calls(fake_qstash) == [
        CREATE,
        ("PATCH", f"/v2/schedules/{sid}/pause"),
        ("PATCH", f"/v2/schedules/{sid}/resume"),
    ]


def test_save_never_raises_when_qstash_is_down(
    unreachable_qstash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()  # no exception escapes the commit
    schedule.refresh_from_db()
    assert schedule.sync_state == "failed"
    assert "Could not reach QStash" in schedule.sync_error


def test_recording_the_sync_state_does_not_sync_again(
    fake_qstash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_schedule()
    assert len(callbacks) == 1  # the state written afterwards used update(): no new callback
    assert len(fake_qstash.requests) == 1


def test_delete_deletes_after_commit(fake_qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    fake_qstash.requests.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        schedule.delete()
        # The pending deletion is recorded in the same transaction as the delete.
        assert ScheduleDeletion.objects.filter(schedule_id=schedule.schedule_id).exists()
    assert fake_qstash.requests == []
    for callback in callbacks:
        callback()
    assert schedule_calls(fake_qstash) == [("DELETE", f"/v2/schedules/{schedule.schedule_id}")]
    assert not ScheduleDeletion.objects.exists()


def test_a_delete_qstash_did_not_get_is_kept_for_the_sync_command(
    fake_qstash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule(name="to delete")
    fake_qstash.answer = (503, {"error": "maintenance"}, {})
    with django_capture_on_commit_callbacks(execute=True):
        TaskSchedule.objects.filter(pk=schedule.pk).delete()  # queryset deletes send signals
    deletion = ScheduleDeletion.objects.get()
    assert (deletion.schedule_id, deletion.name) == (schedule.schedule_id, "to delete")
    assert "HTTP 503: maintenance" in deletion.error
    assert deletion.attempted_at is not None


def test_a_rolled_back_delete_sends_nothing(fake_qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    fake_qstash.requests.clear()
    pk = schedule.pk
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                schedule.delete()
                raise RuntimeError("abort")
        except RuntimeError:
            pass
    assert callbacks == []
    assert fake_qstash.requests == []
    assert not ScheduleDeletion.objects.exists()
    assert TaskSchedule.objects.filter(pk=pk).exists()


def test_auto_sync_off_records_but_does_not_call(fake_qstash, django_capture_on_commit_callbacks):
    with (
        override_settings(DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        schedule = make_schedule()
        schedule.delete()
    assert callbacks == []
    assert fake_qstash.requests == []
    assert ScheduleDeletion.objects.filter(schedule_id=schedule.schedule_id).exists()


def test_sync_suspended(fake_qstash, django_capture_on_commit_callbacks):
    with sync_suspended(), django_capture_on_commit_callbacks(execute=True) as callbacks:
        make_schedule()
    assert callbacks == []
    assert fake_qstash.requests == []


def test_a_stale_instance_does_not_overwrite_the_sync_record(
    fake_qstash, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        schedule = make_schedule()
    held = TaskSchedule.objects.get(pk=schedule.pk)  # loaded, then kept around
    with django_capture_on_commit_callbacks(execute=True):
        schedule.is_active = False
        schedule.save()
    with django_capture_on_commit_callbacks(execute=True):
        held.is_active = True
        held.description = "edited elsewhere"
        held.save()
    sid = schedule.schedule_id
    assert schedule_calls(fake_qstash)[-1] == ("PATCH", f"/v2/schedules/{sid}/resume")
