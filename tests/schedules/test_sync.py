"""The sync service on the wire, against a loopback fake QStash (the recorder)."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from django_qstash import hooks
from django_qstash.schedules import sync
from django_qstash.schedules.models import TaskSchedule
from tests.schedules.conftest import WEBHOOK, make_schedule, schedule_calls

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_auto_sync")]

CREATE = ("POST", f"/v2/schedules/{WEBHOOK}")


def test_upsert_request_carries_the_delay_envelope_and_the_stable_id(fake_qstash):
    schedule = make_schedule(args=["nightly"], kwargs={"value": 2}, cron="0 3 * * *")
    assert sync.sync_schedule(schedule) is None

    (request,) = fake_qstash.requests
    assert (request.method, request.path) == CREATE
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["upstash-cron"] == "0 3 * * *"
    assert headers["upstash-schedule-id"] == schedule.schedule_id
    assert headers["content-type"] == "application/json"
    assert headers["authorization"].startswith("Bearer ")
    # The exact body .delay() would publish for the same call.
    assert request.body == hooks.build_message("example.tasks.record", ["nightly"], {"value": 2})
    assert json.loads(request.body) == {
        "v": 1,
        "task": "example.tasks.record",
        "args": ["nightly"],
        "kwargs": {"value": 2},
    }
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced"
    assert schedule.sync_error == ""
    assert schedule.synced_active is True
    assert schedule.last_synced_at is not None


def test_same_body_as_delay_on_the_wire(fake_qstash):
    from example.tasks import record

    fake_qstash.answer = (200, {"messageId": "msg_1", "scheduleId": "x"}, {})
    record.delay("same", value=[1, "two"])
    make_schedule(args=["same"], kwargs={"value": [1, "two"]}) and None
    sync.sync_queryset(TaskSchedule.objects.all())
    published, scheduled = fake_qstash.requests
    assert published.path.startswith("/v2/publish/")
    assert scheduled.body == published.body


def test_options_and_timezone_reach_qstash(fake_qstash):
    schedule = make_schedule(
        cron="0 4 * * *", timezone="America/New_York", retries=2, timeout=30, queue="nightly-q"
    )
    sync.sync_schedule(schedule)
    headers = {k.lower(): v for k, v in fake_qstash.requests[0].headers.items()}
    assert headers["upstash-cron"] == "CRON_TZ=America/New_York 0 4 * * *"
    assert headers["upstash-retries"] == "2"
    assert headers["upstash-timeout"] == "30s"
    assert headers["upstash-queue-name"] == "nightly-q"
    # retries travel in the envelope too, exactly as apply_async(max_retries=2) sends them
    assert json.loads(fake_qstash.requests[0].body)["options"] == {"max_retries": 2}


def test_task_level_options_are_used_when_the_row_leaves_them_blank(fake_qstash):
    schedule = make_schedule(task_name="example.tasks.always_fails", args=["k"])
    sync.sync_schedule(schedule)
    headers = {k.lower(): v for k, v in fake_qstash.requests[0].headers.items()}
    assert headers["upstash-retries"] == "0"  # @shared_task(max_retries=0)
    assert json.loads(fake_qstash.requests[0].body)["options"] == {"max_retries": 0}


def test_a_retried_sync_upserts_the_same_id_and_unchanged_rows_send_nothing(fake_qstash):
    schedule = make_schedule()
    sync.sync_schedule(schedule, force=True)
    sync.sync_schedule(schedule.pk, force=True)
    ids = {r.headers["Upstash-Schedule-Id"] for r in fake_qstash.requests}
    assert ids == {schedule.schedule_id}
    assert len(fake_qstash.requests) == 2
    # Nothing changed since the last successful sync: nothing to send.
    sync.sync_schedule(schedule.pk)
    assert len(fake_qstash.requests) == 2


def test_deactivating_pauses_and_activating_resumes_without_a_new_upsert(fake_qstash):
    schedule = make_schedule()
    sync.sync_schedule(schedule)
    schedule.is_active = False
    schedule.save()
    sync.sync_schedule(schedule.pk)
    schedule.is_active = True
    schedule.save()
    sync.sync_schedule(schedule.pk)
    sid = schedule.schedule_id
    assert schedule_calls(fake_qstash) == [
        CREATE,
        ("PATCH", f"/v2/schedules/{sid}/pause"),
        ("PATCH", f"/v2/schedules/{sid}/resume"),
    ]
    schedule.refresh_from_db()
    assert schedule.synced_active is True
    assert schedule.sync_state == "synced"


def test_a_new_inactive_schedule_is_created_then_paused(fake_qstash):
    schedule = make_schedule(is_active=False)
    sync.sync_schedule(schedule)
    assert schedule_calls(fake_qstash) == [
        CREATE,
        ("PATCH", f"/v2/schedules/{schedule.schedule_id}/pause"),
    ]


def test_editing_a_paused_schedule_upserts_then_pauses_again(fake_qstash):
    # Real QStash replaces a schedule on upsert (so it would run again); pause it explicitly.
    schedule = make_schedule(is_active=False)
    sync.sync_schedule(schedule)
    schedule.cron = "0 5 * * *"
    schedule.save()
    sync.sync_schedule(schedule.pk)
    assert schedule_calls(fake_qstash)[2:] == [
        CREATE,
        ("PATCH", f"/v2/schedules/{schedule.schedule_id}/pause"),
    ]


def test_unreachable_qstash_keeps_the_row_marked_unsynced(unreachable_qstash):
    schedule = make_schedule()
    error = sync.sync_schedule(schedule)
    assert error is not None
    assert error.startswith("Could not reach QStash at http://127.0.0.1:9 to save schedule djq-")
    schedule.refresh_from_db()
    assert schedule.sync_state == "failed"
    assert schedule.sync_error == error
    assert schedule.needs_sync is True
    assert schedule.last_synced_at is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, "QStash refused to save schedule {sid} (HTTP 401: bad token); check QSTASH_TOKEN."),
        (400, "QStash refused to save schedule {sid} (HTTP 400: bad token); see QStash's answer."),
        (500, "QStash refused to save schedule {sid} (HTTP 500: bad token); see QStash's answer."),
    ],
)
def test_refusals_are_stored_with_qstash_s_reason(fake_qstash, status, expected):
    fake_qstash.answer = (status, {"error": "bad token"}, {})
    schedule = make_schedule()
    error = sync.sync_schedule(schedule)
    assert error == expected.format(sid=schedule.schedule_id)
    schedule.refresh_from_db()
    assert schedule.sync_error == error


def test_rate_limit_is_explained(fake_qstash):
    fake_qstash.answer = (429, {"error": "slow down"}, {"Burst-RateLimit-Reset": "1"})
    error = sync.sync_schedule(make_schedule())
    assert error is not None
    assert "rate-limited" in error


def test_a_failed_sync_is_repaired_by_the_next_one(fake_qstash):
    fake_qstash.answer = (503, {"error": "down"}, {})
    schedule = make_schedule()
    assert sync.sync_schedule(schedule)
    fake_qstash.answer = (200, {"scheduleId": "x"}, {})
    assert sync.sync_schedule(schedule.pk) is None
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced"
    assert [r.headers["Upstash-Schedule-Id"] for r in fake_qstash.requests] == [
        schedule.schedule_id
    ] * 2


def test_unregistered_task_and_missing_settings_are_not_pushed(fake_qstash):
    schedule = make_schedule()
    TaskSchedule.objects.filter(pk=schedule.pk).update(task_name="gone.task")
    error = sync.sync_schedule(schedule.pk)
    assert error is not None
    assert "Not pushed: no task named 'gone.task' is registered" in error
    schedule = make_schedule()
    with override_settings(DJANGO_QSTASH_DOMAIN=""):
        error = sync.sync_schedule(schedule)
    assert error is not None
    assert "DJANGO_QSTASH_DOMAIN is not set" in error
    assert fake_qstash.requests == []


def test_pause_of_a_schedule_qstash_lost_recreates_it(fake_qstash):
    schedule = make_schedule()
    sync.sync_schedule(schedule)
    TaskSchedule.objects.filter(pk=schedule.pk).update(is_active=False)
    fake_qstash.answer = (404, {"error": "schedule not found"}, {})
    error = sync.sync_schedule(schedule.pk)
    # The fake answers 404 to everything, so the recreation fails too, but it was attempted.
    assert error is not None
    assert "HTTP 404" in error
    assert schedule_calls(fake_qstash)[1:3] == [
        ("PATCH", f"/v2/schedules/{schedule.schedule_id}/pause"),
        CREATE,
    ]


def test_bulk_updates_need_an_explicit_sync(fake_qstash):
    make_schedule(name="a")
    make_schedule(name="b")
    sync.sync_queryset(TaskSchedule.objects.all())
    fake_qstash.requests.clear()
    with override_settings(DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=True):
        TaskSchedule.objects.update(is_active=False)  # no signal: nothing sent
    assert fake_qstash.requests == []
    assert sync.sync_queryset(TaskSchedule.objects.all()) == {}
    assert [r.method for r in fake_qstash.requests] == ["PATCH", "PATCH"]
    assert all(r.path.endswith("/pause") for r in fake_qstash.requests)


def test_set_active_updates_rows_and_pushes(fake_qstash):
    schedule = make_schedule()
    sync.sync_schedule(schedule)
    assert sync.set_active([schedule], False) == {}
    schedule.refresh_from_db()
    assert schedule.is_active is False
    assert schedule.sync_state == "synced"
    assert schedule_calls(fake_qstash)[-1] == (
        "PATCH",
        f"/v2/schedules/{schedule.schedule_id}/pause",
    )


def test_run_now_publishes_the_same_message_once(fake_qstash):
    fake_qstash.answer = (200, {"messageId": "msg_now"}, {})
    schedule = make_schedule(args=["now"], retries=1, queue="q1")
    assert sync.run_now(schedule) == "msg_now"
    (request,) = fake_qstash.requests
    assert request.path == f"/v2/enqueue/q1/{WEBHOOK}"
    assert request.headers["Upstash-Retries"] == "1"
    assert request.body == hooks.build_message(
        "example.tasks.record", ["now"], {}, {"max_retries": 1}
    )


def test_run_now_failure_is_a_clear_error(unreachable_qstash):
    with pytest.raises(sync.ScheduleSyncError, match="Could not reach QStash"):
        sync.run_now(make_schedule())


def test_delete_remote_treats_not_found_as_done(fake_qstash):
    fake_qstash.answer = (404, {"error": "not found"}, {})
    sync.delete_remote("djq-gone")
    fake_qstash.answer = (500, {"error": "oops"}, {})
    with pytest.raises(sync.ScheduleSyncError, match="HTTP 500"):
        sync.delete_remote("djq-x")
    assert schedule_calls(fake_qstash) == [
        ("DELETE", "/v2/schedules/djq-gone"),
        ("DELETE", "/v2/schedules/djq-x"),
    ]


def test_record_success_does_not_hide_a_newer_save(fake_qstash):
    schedule = make_schedule()
    stale = TaskSchedule.objects.get(pk=schedule.pk)
    schedule.cron = "0 9 * * *"
    schedule.save()  # a newer change, whose own sync is still to come
    sync.push(stale)
    schedule.refresh_from_db()
    assert schedule.needs_sync is True  # still pending for the newer content


def test_parse_envelope_recognises_only_django_qstash_bodies():
    class Remote:
        body_base64 = None

        def __init__(self, body):
            self.body = body

    body = hooks.build_message("example.tasks.record", ["k"], {"value": 1}, {"max_retries": 2})
    call = sync.parse_envelope(Remote(body.decode()))
    assert call == sync.RemoteTask("example.tasks.record", ["k"], {"value": 1}, {"max_retries": 2})
    for other in ['{"hello": "world"}', "not json", "", None, "[1]", '{"task": "x", "v": 99}']:
        assert sync.parse_envelope(Remote(other)) is None
