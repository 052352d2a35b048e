"""Against the real dev server and the sample project as a live server process.

The dev server's cron clock is compressed (one cron minute = 1 s), so ``* * * * *`` fires about
every second; the sample project's ``example.tasks.record`` writes the rows we wait for.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import override_settings
from qstash.errors import QStashError

from django_qstash import hooks
from django_qstash.schedules.models import TaskSchedule
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

EVERY_MINUTE = "* * * * *"


@pytest.fixture
def live(django_server: DjangoServer, publish_via) -> Iterator[DjangoServer]:
    """Settings here point at the dev server, with the live server's webhook as destination;
    schedules left on the dev server by a test are deleted afterwards."""
    publish_via(django_server)
    before = {s.schedule_id for s in django_server.devserver.client().schedule.list()}
    yield django_server
    sdk = django_server.devserver.client()
    for schedule in sdk.schedule.list():
        if schedule.schedule_id not in before:
            sdk.schedule.delete(schedule.schedule_id)


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``with commit(): ...``: run the block, then its on-commit callbacks (the sync)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def remote(server: DjangoServer, schedule_id: str):
    return server.devserver.client().schedule.get(schedule_id)


def scheduled_results(server: DjangoServer, schedule_id: str) -> list[tuple[str, str]]:
    return server.query(
        "SELECT task_name, status FROM django_qstash_results_taskresult WHERE schedule_id = ?",
        (schedule_id,),
    )


def test_a_schedule_fires_and_its_task_runs(live: DjangoServer, commit):
    key = f"sched-{uuid.uuid4().hex[:8]}"
    with commit():
        schedule = TaskSchedule.objects.create(
            name=key,
            task_name="example.tasks.record",
            cron=EVERY_MINUTE,
            args=[key],
            kwargs={"value": {"from": "schedule"}},
        )
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced", schedule.sync_error
    on_server = remote(live, schedule.schedule_id)
    assert on_server.destination == live.webhook_url
    assert on_server.body.encode() == hooks.build_message(
        "example.tasks.record", [key], {"value": {"from": "schedule"}}
    )

    (run, *_) = live.wait_for_runs(1, task="record", key=key)
    assert run["value"] == {"from": "schedule"}
    # The webhook ran it like any .delay() message, and knew which schedule produced it.
    results = wait_until(lambda: scheduled_results(live, schedule.schedule_id), timeout=10)
    assert ("example.tasks.record", "SUCCESS") in results


def test_pause_resume_and_delete_reach_the_dev_server(live: DjangoServer, commit):
    key = f"sched-{uuid.uuid4().hex[:8]}"
    with commit():
        schedule = TaskSchedule.objects.create(
            name=key, task_name="example.tasks.record", cron=EVERY_MINUTE, args=[key]
        )
    live.wait_for_runs(1, task="record", key=key)

    with commit():
        schedule.is_active = False
        schedule.save()
    assert remote(live, schedule.schedule_id).paused is True

    with commit():
        schedule.is_active = True
        schedule.save()
    assert remote(live, schedule.schedule_id).paused is False
    count = len(live.task_runs("record", key))
    live.wait_for_runs(count + 1, task="record", key=key)  # it runs again after resuming

    schedule_id = schedule.schedule_id
    with commit():
        schedule.delete()
    with pytest.raises(QStashError, match="404"):
        remote(live, schedule_id)


def test_cron_tz_reaches_the_dev_server(live: DjangoServer, commit):
    with commit():
        schedule = TaskSchedule.objects.create(
            name=f"tz-{uuid.uuid4().hex[:6]}",
            task_name="example.tasks.record",
            cron="0 4 1 1 *",
            timezone="America/New_York",
            args=["tz"],
            retries=1,
            timeout=20,
        )
    on_server = remote(live, schedule.schedule_id)
    assert on_server.cron == "CRON_TZ=America/New_York 0 4 1 1 *"
    assert (on_server.retries, on_server.timeout) == (1, 20)


def test_unreachable_qstash_then_sync_command_repairs(live: DjangoServer, commit):
    key = f"sched-{uuid.uuid4().hex[:8]}"
    with override_settings(QSTASH_URL="http://127.0.0.1:9"), commit():
        schedule = TaskSchedule.objects.create(
            name=key, task_name="example.tasks.record", cron=EVERY_MINUTE, args=[key]
        )
    schedule.refresh_from_db()
    assert schedule.sync_state == "failed"
    assert "Could not reach QStash" in schedule.sync_error
    with pytest.raises(QStashError, match="404"):
        remote(live, schedule.schedule_id)

    out = io.StringIO()
    call_command("task_schedules", "--sync", "--no-input", stdout=out)
    assert f"create on QStash     {key}" in out.getvalue()
    schedule.refresh_from_db()
    assert schedule.sync_state == "synced"
    assert remote(live, schedule.schedule_id).destination == live.webhook_url
    live.wait_for_runs(1, task="record", key=key)
