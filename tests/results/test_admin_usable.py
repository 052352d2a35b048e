"""The results admin as people use it: readable times, coloured statuses, the attempts history,
a requeue button on each row, and when a pending message is due."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from django_qstash.results.models import TaskResult, TaskStatus

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:django_qstash_results_taskresult_changelist")


def change_url(row: TaskResult) -> str:
    return reverse("admin:django_qstash_results_taskresult_change", args=[row.pk])


@pytest.fixture
def retried_row() -> TaskResult:
    started = timezone.now().replace(microsecond=0)
    return TaskResult.objects.create(
        task_id="msg_third_time",
        task_name="example.tasks.fail_until",
        status=TaskStatus.SUCCESS,
        args=["k", 3],
        result=3,
        attempts=3,
        date_created=started - datetime.timedelta(seconds=7),
        date_started=started - datetime.timedelta(seconds=2),
        date_done=started,
        duration=0.000_42,
        attempt_errors=[
            {
                "attempt": 1,
                "at": "2026-12-06T05:03:01+00:00",
                "type": "builtins.RuntimeError",
                "message": "attempt 1 of k fails on purpose",
            },
            {
                "attempt": 2,
                "at": "2026-12-06T05:03:04+00:00",
                "type": "builtins.RuntimeError",
                "message": "attempt 2 of k fails on purpose",
            },
        ],
    )


def test_the_list_shows_seconds_durations_statuses_and_failed_attempts(admin_client, retried_row):
    html = admin_client.get(CHANGELIST).content.decode()
    created = timezone.localtime(retried_row.date_created)
    done = timezone.localtime(retried_row.date_done).strftime("%H:%M:%S")
    assert f'<span class="dqr-day">{created:%Y-%m-%d}</span> {created:%H:%M:%S}' in html
    assert f">{done}<" in html
    assert "420 µs" in html
    assert 'class="dqr-status dqr-status-success"' in html
    assert "2 failed" in html
    assert "django_qstash_results/admin.css" in html
    assert str(retried_row) == "example.tasks.fail_until success [msg_third_time]"


def test_the_detail_page_shows_the_attempts_history_and_a_requeue_button(
    admin_client, retried_row, qstash
):
    page = admin_client.get(change_url(retried_row)).content.decode()
    assert "attempt 1 of k fails on purpose" in page
    assert "attempt 2 of k fails on purpose" in page
    assert 'id="dqr-requeue"' in page
    assert "<title>example.tasks.fail_until success [msg_third_time]" in page
    requeue = reverse("admin:django_qstash_results_taskresult_requeue", args=[retried_row.pk])
    assert requeue in page
    done = admin_client.post(requeue, follow=True)
    assert "Requeued 1 task(s) as new message(s)" in done.content.decode()
    [published] = qstash.requests
    assert (published.json()["task"], published.json()["args"]) == (
        "example.tasks.fail_until",
        ["k", 3],
    )
    assert admin_client.get(requeue).status_code == 405


def test_a_view_only_user_has_no_requeue_button_and_cannot_post_it(retried_row, qstash):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_taskresult"))
    client = Client()
    client.force_login(user)
    assert 'id="dqr-requeue"' not in client.get(change_url(retried_row)).content.decode()
    requeue = reverse("admin:django_qstash_results_taskresult_requeue", args=[retried_row.pk])
    assert client.post(requeue).status_code == 403
    assert qstash.requests == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_pending_countdown_row_shows_when_it_is_due(admin_client, qstash_devserver, live_server):
    from example.tasks import record

    keys = qstash_devserver.keys()
    with override_settings(
        QSTASH_URL=qstash_devserver.url,
        QSTASH_TOKEN=qstash_devserver.token,
        QSTASH_CURRENT_SIGNING_KEY=keys["current"],
        QSTASH_NEXT_SIGNING_KEY=keys["next"],
        DJANGO_QSTASH_DOMAIN=live_server.url,
        DJANGO_QSTASH_FORCE_HTTPS=False,
        DJANGO_QSTASH_RESULTS_STORE_PENDING=True,
    ):
        before = timezone.now()
        result: Any = record.apply_async(args=[uuid.uuid4().hex], countdown=3600)
        row = TaskResult.objects.get(task_id=result.id)
        assert row.status == TaskStatus.PENDING
        expected = timezone.localtime(before + datetime.timedelta(seconds=3600))
        html = admin_client.get(CHANGELIST).content.decode()
        assert "due " + expected.strftime("%Y-%m-%d %H:") in html
        page = admin_client.get(change_url(row)).content.decode()
        assert expected.strftime("%Y-%m-%d %H:") in page
        qstash_devserver.client().message.cancel(result.id)
