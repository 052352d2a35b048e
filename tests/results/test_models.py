"""The results app's models and migrations."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.utils import timezone

from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus

pytestmark = pytest.mark.django_db


def test_defaults_and_str():
    row = TaskResult.objects.create(task_id="msg_1", task_name="app.tasks.add")
    assert (row.status, row.args, row.kwargs, row.result, row.attempts) == (
        TaskStatus.PENDING,
        [],
        {},
        None,
        0,
    )
    assert row.date_created is not None
    assert (row.date_started, row.date_done, row.duration) == (None, None, None)
    assert str(row) == f"{row.task_name} pending [msg_1]"
    assert row.ready is False
    row.status = TaskStatus.FAILURE
    assert row.ready is True


def test_one_row_per_message():
    TaskResult.objects.create(task_id="msg_1", task_name="a")
    with pytest.raises(IntegrityError):
        TaskResult.objects.create(task_id="msg_1", task_name="b")


def test_statuses():
    assert [s.value for s in TaskStatus] == ["PENDING", "STARTED", "RETRY", "SUCCESS", "FAILURE"]


def test_indexes_for_the_admin_filters_and_for_cleanup():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TaskResult._meta.db_table)
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}
    for columns in [("task_id",), ("status",), ("task_name",), ("date_created",), ("date_done",)]:
        assert columns in indexed
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, SeenSignature._meta.db_table)
    assert ("expires_at",) in {tuple(c["columns"]) for c in constraints.values() if c["index"]}


def test_ordering_newest_first():
    now = timezone.now()
    TaskResult.objects.create(
        task_id="old", task_name="a", date_created=now - datetime.timedelta(1)
    )
    TaskResult.objects.create(task_id="new", task_name="a", date_created=now)
    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["new", "old"]


def test_seen_signature_str():
    moment = timezone.make_aware(datetime.datetime(2030, 1, 2, 3, 4, 5))
    seen = SeenSignature.objects.create(jti="jwt_1", task_id="msg_1", expires_at=moment)
    assert str(seen) == "jwt_1 (expires 2030-01-02 03:04:05)"


def test_migrations_match_the_models():
    out = StringIO()
    call_command("makemigrations", "django_qstash_results", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
