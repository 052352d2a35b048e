"""The dashboard (admin) and ``manage.py qstash_metrics``: figures over a window, from real rows."""

from __future__ import annotations

import datetime
import json
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_qstash.results import metrics
from django_qstash.results.models import TaskResult, TaskStatus

pytestmark = pytest.mark.django_db

URL = "/admin/django_qstash_results/taskdashboard/"
ADD, MAIL = "example.tasks.add", "example.tasks.send_mail"


def make_rows() -> None:
    now = timezone.now()
    rows = []
    # add: 10 runs, all fine, durations 1..10 ms.
    for i in range(10):
        rows.append(
            TaskResult(
                task_id=f"add-{i}",
                task_name=ADD,
                status=TaskStatus.SUCCESS,
                attempts=1,
                duration=(i + 1) / 1000,
                date_created=now - datetime.timedelta(minutes=5 + i),
                date_done=now - datetime.timedelta(minutes=5 + i),
            )
        )
    # send_mail: 2 successes (one on its third attempt), 2 failures, 1 retrying, 1 pending.
    mail = [
        (TaskStatus.SUCCESS, 1, 0.5),
        (TaskStatus.SUCCESS, 3, 1.5),
        (TaskStatus.FAILURE, 4, 2.0),
        (TaskStatus.FAILURE, 1, 0.1),
        (TaskStatus.RETRY, 2, 0.2),
        (TaskStatus.PENDING, 0, None),
    ]
    for i, (status, attempts, duration) in enumerate(mail):
        failed = status == TaskStatus.FAILURE
        rows.append(
            TaskResult(
                task_id=f"mail-{i}",
                task_name=MAIL,
                status=status,
                attempts=attempts,
                duration=duration,
                date_created=now - datetime.timedelta(minutes=20 + i),
                date_done=now - datetime.timedelta(minutes=20 + i) if duration else None,
                exception_type="smtplib.SMTPServerDisconnected" if failed else "",
                exception_message=f"connection lost {i}" if failed else "",
                traceback='Traceback (most recent call last):\n  File "mail.py", line 3\n'
                "smtplib.SMTPServerDisconnected: connection lost"
                if failed
                else "",
            )
        )
    # Outside the 1h and 24h windows, inside 7d.
    rows.append(
        TaskResult(
            task_id="old",
            task_name=ADD,
            status=TaskStatus.FAILURE,
            attempts=1,
            duration=9.0,
            date_created=now - datetime.timedelta(days=3),
            date_done=now - datetime.timedelta(days=3),
        )
    )
    TaskResult.objects.bulk_create(rows)


def test_the_figures_per_task_failing_first():
    make_rows()
    figures = metrics.collect("1h")
    assert [t.task_name for t in figures.tasks] == [MAIL, ADD]
    mail, add = figures.tasks
    assert (mail.runs, mail.successes, mail.failures, mail.retries) == (6, 2, 2, 2 + 3 + 1)
    assert mail.failure_rate == 0.5
    assert (add.runs, add.successes, add.failures, add.retries) == (10, 10, 0, 0)
    assert (add.p50, add.p95) == (0.005, 0.010)  # nearest rank of 1..10 ms
    assert (mail.p50, mail.p95) == (0.5, 2.0)
    assert (figures.pending, figures.retrying) == (1, 1)
    assert [f.task_id for f in figures.latest_failures] == ["mail-2", "mail-3"]
    assert figures.latest_failures[0].error == "SMTPServerDisconnected: connection lost 2"
    assert figures.latest_failures[0].traceback_head[0].startswith("Traceback")
    assert len(figures.buckets) in (60, 61)
    assert sum(sum(b.counts.values()) for b in figures.buckets) == 16
    week = metrics.collect("7d")
    assert next(t for t in week.tasks if t.task_name == ADD).failures == 1
    assert sum(sum(b.counts.values()) for b in week.buckets) == 17


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="1h, 24h, 7d"):
        metrics.collect("2h")


def staff(*, perms: bool) -> Client:
    user = User.objects.create_user("staff", password="x", is_staff=True)
    if perms:
        user.user_permissions.add(Permission.objects.get(codename="view_taskresult"))
    client = Client()
    client.force_login(user)
    return client


def test_the_dashboard_renders_every_panel_for_staff():
    make_rows()
    assert reverse("admin:django_qstash_results_taskdashboard_changelist") == URL
    client = staff(perms=True)
    page = client.get(URL, {"window": "1h"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Task dashboard: the last 1h" in html
    assert html.count('class="dqr-task-row"') == 2
    assert html.index(MAIL) < html.index(ADD)  # failing first
    assert "<svg" in html
    assert 'class="dqr-success"' in html
    assert 'class="dqr-failure"' in html
    assert html.count('class="dqr-failure-row"') == 2
    change = reverse(
        "admin:django_qstash_results_taskresult_change",
        args=[TaskResult.objects.get(task_id="mail-3").pk],
    )
    assert change in html
    assert "SMTPServerDisconnected: connection lost 3" in html
    assert 'id="dqr-pending">1<' in html
    assert 'id="dqr-retrying">1<' in html
    assert "50.0%" in html
    # The dashboard is on the admin index.
    assert URL in client.get(reverse("admin:index")).content.decode()


def test_the_dashboard_is_for_staff_with_the_permission_only():
    anonymous = Client().get(URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))
    assert staff(perms=False).get(URL).status_code == 403


def test_a_bad_window_says_so_and_shows_the_default():
    page = staff(perms=True).get(URL, {"window": "forever"}, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Unknown window" in html
    assert "Task dashboard: the last 24h" in html
    assert "No runs in this window." in html


def test_qstash_metrics_prints_the_same_figures():
    make_rows()
    out = StringIO()
    call_command("qstash_metrics", "--since", "1h", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["window"] == "1h"
    assert [t["task_name"] for t in data["tasks"]] == [MAIL, ADD]
    assert data["tasks"][0]["failure_rate"] == 0.5
    assert (data["pending"], data["retrying"]) == (1, 1)
    assert data["totals"]["runs"] == 16
    assert len(data["latest_failures"]) == 2
    text = StringIO()
    call_command("qstash_metrics", "--since", "7d", stdout=text)
    lines = text.getvalue().splitlines()
    assert lines[0].startswith("Task results of the last 7d")
    assert any(line.startswith(MAIL) and "50.0%" in line for line in lines)
    assert any(line.startswith("all tasks") for line in lines)
    assert "Pending now: 1; retrying now: 1." in text.getvalue()
    with pytest.raises(CommandError):
        call_command("qstash_metrics", "--since", "2h", stdout=StringIO(), stderr=StringIO())


def test_percentiles_come_from_an_even_sample_of_a_large_window(monkeypatch):
    make_rows()
    monkeypatch.setattr(metrics, "PERCENTILE_SAMPLE", 5)  # 16 rows in the hour: every 4th id
    figures = metrics.collect("1h")
    sampled = {t.task_name: (t.p50, t.p95) for t in figures.tasks}
    durations = set(TaskResult.objects.values_list("duration", flat=True))
    for p50, p95 in sampled.values():
        assert p50 is None or p50 in durations
        assert p95 is None or p95 in durations
    # The counts stay exact.
    assert {t.task_name: t.runs for t in figures.tasks} == {MAIL: 6, ADD: 10}


def test_nearest_rank():
    values = [float(n) for n in range(1, 11)]
    assert (metrics._nearest_rank(values, 50), metrics._nearest_rank(values, 95)) == (5.0, 10.0)
    assert metrics._nearest_rank([7.0], 95) == 7.0
