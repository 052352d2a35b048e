"""Each schedule's last run, its status and its run count, written from the webhook's hooks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from django_qstash.schedules.models import TaskSchedule
from tests.results.conftest import Deliverer
from tests.support.devserver import DevServerProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def schedule(**fields: Any) -> TaskSchedule:
    from django_qstash.schedules.signals import sync_suspended

    with sync_suspended():
        return TaskSchedule.objects.create(
            name=uuid.uuid4().hex[:10],
            task_name="example.tasks.fail_until",
            cron="* * * * *",
            **fields,
        )


def test_a_scheduled_delivery_counts_as_a_run_and_its_retries_do_not():
    row = schedule(args=[uuid.uuid4().hex, 2])
    deliver = Deliverer(Client())
    key, until = row.args
    message_id = f"msg_{uuid.uuid4().hex}"
    first = deliver(
        "example.tasks.fail_until",
        key,
        until,
        message_id=message_id,
        schedule_id=row.schedule_id,
    )
    assert first.status_code == 500
    row.refresh_from_db()
    assert (row.run_count, row.last_run_status) == (1, "RETRY")
    assert row.last_run_at is not None
    second = deliver(
        "example.tasks.fail_until",
        key,
        until,
        message_id=message_id,
        retried=1,
        schedule_id=row.schedule_id,
    )
    assert second.status_code == 200
    row.refresh_from_db()
    assert (row.run_count, row.last_run_status) == (1, "SUCCESS")
    # A delivery without a schedule id, or with another one, changes nothing here.
    deliver("example.tasks.record", "plain")
    deliver("example.tasks.record", "other", schedule_id="scd_other")
    row.refresh_from_db()
    assert row.run_count == 1


def test_the_list_shows_last_run_next_run_and_run_count(admin_client):
    row = schedule(args=["k", 1])
    TaskSchedule.objects.filter(pk=row.pk).update(run_count=7, last_run_status="FAILURE")
    html = admin_client.get(
        reverse("admin:django_qstash_schedules_taskschedule_changelist")
    ).content.decode()
    for header in ("last run", "next run", "runs"):
        assert f">{header.capitalize()}<" in html or f">{header}<" in html.lower()
    assert "never" in html  # last_run_at is unset
    assert ">7<" in html
    page = admin_client.get(
        reverse("admin:django_qstash_schedules_taskschedule_change", args=[row.pk])
    ).content.decode()
    assert 'class="djq-task-search' in page
    assert "task_search.js" in page
    assert '<select name="task_name"' in page


@pytest.fixture
def live_site(live_server: Any, qstash_devserver: DevServerProcess) -> Iterator[None]:
    keys = qstash_devserver.keys()
    with override_settings(
        QSTASH_URL=qstash_devserver.url,
        QSTASH_TOKEN=qstash_devserver.token,
        QSTASH_CURRENT_SIGNING_KEY=keys["current"],
        QSTASH_NEXT_SIGNING_KEY=keys["next"],
        DJANGO_QSTASH_DOMAIN=live_server.url,
        DJANGO_QSTASH_FORCE_HTTPS=False,
    ):
        yield


@pytest.mark.slow
@pytest.mark.usefixtures("live_site")
def test_a_schedule_on_the_dev_server_counts_its_runs(
    qstash_devserver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        row = TaskSchedule.objects.create(
            name=uuid.uuid4().hex[:10],
            task_name="example.tasks.record",
            cron="* * * * *",
            args=[uuid.uuid4().hex],
        )
    row.refresh_from_db()
    assert row.sync_state == "synced", row.sync_error
    try:

        def counted() -> TaskSchedule | None:
            row.refresh_from_db()
            return row if row.run_count >= 2 else None

        wait_until(counted, timeout=30, message="two runs of the schedule")
        assert row.last_run_status == "SUCCESS"
        assert row.last_run_at is not None
    finally:
        qstash_devserver.client().schedule.delete(row.schedule_id)
