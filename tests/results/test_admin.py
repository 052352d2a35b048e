"""The read-only TaskResult admin: changelist, filters, search, change page, actions."""

from __future__ import annotations

import datetime
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_qstash.results.models import TaskResult, TaskStatus

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:django_qstash_results_taskresult_changelist")


@pytest.fixture
def results() -> list[TaskResult]:
    now = timezone.now()
    return [
        TaskResult.objects.create(
            task_id="msg_ok",
            task_name="example.tasks.record",
            status=TaskStatus.SUCCESS,
            args=["a"],
            kwargs={"value": 1},
            result={"answer": 42},
            attempts=1,
            date_started=now,
            date_done=now,
            duration=0.0123,
        ),
        TaskResult.objects.create(
            task_id="msg_bad",
            task_name="example.tasks.always_fails",
            status=TaskStatus.FAILURE,
            args=["b"],
            exception_type="builtins.ValueError",
            exception_message="b fails for good",
            traceback='Traceback (most recent call last):\n  File "x.py", line 1\n'
            "ValueError: b fails for good <script>",
            attempts=4,
            date_created=now - datetime.timedelta(days=3),
            date_started=now,
            date_done=now,
            duration=2.5,
        ),
    ]


def change_url(row: TaskResult) -> str:
    return reverse("admin:django_qstash_results_taskresult_change", args=[row.pk])


def test_the_changelist_shows_names_status_attempts_times_and_duration(admin_client, results):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("example.tasks.record", "example.tasks.always_fails", "12.3 ms", "2.50 s"):
        assert text in html
    columns = response.context["cl"].list_display
    assert columns[1:] == [
        "task_display",
        "status_display",
        "attempts_display",
        "created_display",
        "started_display",
        "done_display",
        "duration_display",
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=FAILURE", {"msg_bad"}),
        ("task_name=example.tasks.record", {"msg_ok"}),
        ("q=msg_ok", {"msg_ok"}),
        ("q=always_fails", {"msg_bad"}),
        ("date_created__gte={today}", {"msg_ok"}),
    ],
)
def test_filters_and_search(admin_client, results, query, expected):
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    query = query.format(today=quote(midnight.isoformat()))
    response = admin_client.get(f"{CHANGELIST}?{query}")
    assert response.status_code == 200
    assert {r.task_id for r in response.context["cl"].result_list} == expected


def test_the_change_page_is_read_only_with_a_readable_traceback(admin_client, results):
    response = admin_client.get(change_url(results[1]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<pre" in html
    assert "ValueError: b fails for good &lt;script&gt;" in html
    assert "<script>" not in html.split("ValueError: b fails for good")[1][:20]
    assert 'name="_save"' not in html
    assert "builtins.ValueError" in html
    ok = admin_client.get(change_url(results[0])).content.decode()
    assert "&quot;answer&quot;: 42" in ok


def test_nothing_can_be_added_or_edited(admin_client, results):
    assert (
        admin_client.get(reverse("admin:django_qstash_results_taskresult_add")).status_code == 403
    )
    response = admin_client.post(change_url(results[0]), {"status": "FAILURE"})
    assert response.status_code == 403
    results[0].refresh_from_db()
    assert results[0].status == TaskStatus.SUCCESS


def test_requeue_publishes_the_same_task_and_arguments_again(admin_client, results, qstash):
    response = admin_client.post(
        CHANGELIST,
        {"action": "requeue_selected", "_selected_action": [r.pk for r in results]},
        follow=True,
    )
    assert response.status_code == 200
    bodies = sorted((r.json() for r in qstash.requests), key=lambda b: b["task"])
    assert [(b["task"], b["args"], b["kwargs"]) for b in bodies] == [
        ("example.tasks.always_fails", ["b"], {}),
        ("example.tasks.record", ["a"], {"value": 1}),
    ]
    assert all(r.path.startswith("/v2/publish/") for r in qstash.requests)
    assert "Requeued 2 task(s) as new message(s)" in response.content.decode()


def test_requeue_reports_a_task_that_no_longer_exists(admin_client, qstash):
    row = TaskResult.objects.create(task_id="msg_gone", task_name="app.tasks.removed")
    response = admin_client.post(
        CHANGELIST, {"action": "requeue_selected", "_selected_action": [row.pk]}, follow=True
    )
    assert "Could not requeue app.tasks.removed [msg_gone]" in response.content.decode()
    # Nothing published (the list may have asked QStash when the PENDING row is due).
    assert [r for r in qstash.requests if r.method != "GET"] == []


def test_delete_selected(admin_client, results):
    response = admin_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": [results[0].pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["msg_bad"]


def test_a_view_only_user_sees_results_but_cannot_requeue(results):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_taskresult"))
    client = Client()
    client.force_login(user)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "requeue_selected" not in response.content.decode()
    assert client.get(change_url(results[0])).status_code == 200
