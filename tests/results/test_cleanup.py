"""Cleanup: the clear_stale_results command, the batched deletes behind it."""

from __future__ import annotations

import datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.db.models.query import QuerySet
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_qstash.results.cleanup import clear_stale_results, delete_in_batches
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus

pytestmark = pytest.mark.django_db

DAY = 86_400


def ago(seconds: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(seconds=seconds)


def make(task_id: str, *, done: float | None, created: float | None = None, **extra: Any) -> None:
    created_ago = created if created is not None else (done or 0) + 1
    TaskResult.objects.create(
        task_id=task_id,
        task_name="example.tasks.record",
        status=extra.pop("status", TaskStatus.SUCCESS if done is not None else TaskStatus.STARTED),
        date_created=ago(created_ago),
        date_done=None if done is None else ago(done),
        **extra,
    )


@pytest.fixture
def rows() -> None:
    make("old_success", done=8 * DAY)
    make("old_failure", done=8 * DAY, status=TaskStatus.FAILURE)
    make("recent", done=6 * DAY)
    make("old_pending", done=None, created=9 * DAY, status=TaskStatus.PENDING)
    make("old_started", done=None, created=30 * DAY)
    make("running", done=None, created=60)
    SeenSignature.objects.create(jti="jwt_expired", task_id="x", expires_at=ago(1))
    SeenSignature.objects.create(jti="jwt_live", task_id="x", expires_at=ago(-300))


def remaining() -> set[str]:
    return set(TaskResult.objects.values_list("task_id", flat=True))


def run(*args: str) -> str:
    out = StringIO()
    call_command("clear_stale_results", *args, stdout=out)
    return out.getvalue()


def test_the_seed_command_deletes_results_older_than_since(rows):
    out = run("--since", "604800", "--no-input")
    assert remaining() == {"recent", "running"}
    assert "Deleted 4 task result(s) older than 604800 seconds and 1 expired signature(s)." in out
    assert list(SeenSignature.objects.values_list("jti", flat=True)) == ["jwt_live"]


def test_since_defaults_to_the_result_ttl_setting(rows):
    run("--no-input")
    assert remaining() == {"recent", "running"}
    with override_settings(DJANGO_QSTASH_RESULT_TTL=5 * DAY):
        out = run("--no-input")
    assert remaining() == {"running"}
    assert "older than 432000 seconds" in out


def test_since_zero_deletes_every_result(rows):
    run("--since", "0", "--no-input")
    # Even a run still going: should it finish, its outcome write inserts the row again.
    assert remaining() == set()


def test_dry_run_deletes_nothing(rows):
    out = run("--since", "604800", "--dry-run")
    assert "4 task result(s) older than 604800 seconds" in out
    assert "1 expired signature(s) would be deleted" in out
    assert "Dry run: nothing was deleted." in out
    assert len(remaining()) == 6
    assert SeenSignature.objects.count() == 2


def test_the_prompt_asks_and_a_refusal_deletes_nothing(rows, monkeypatch):
    questions: list[str] = []
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or "no")
    out = run("--since", "604800")
    assert questions
    assert "yes" in questions[0]
    assert "4 task result(s) older than 604800 seconds" in out
    assert "Cancelled: nothing was deleted." in out
    assert len(remaining()) == 6


def test_the_prompt_deletes_on_yes(rows, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda q: "yes")
    out = run("--since", "604800")
    assert remaining() == {"recent", "running"}
    assert "Deleted 4 task result(s)" in out


def test_without_a_terminal_the_prompt_fails_and_says_to_pass_no_input(rows, monkeypatch):
    def no_stdin(question: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    with pytest.raises(CommandError, match="pass --no-input"):
        run("--since", "604800")
    assert len(remaining()) == 6


def test_nothing_to_delete_does_not_prompt(monkeypatch):
    monkeypatch.setattr("builtins.input", lambda q: pytest.fail("prompted"))
    assert "Nothing to delete." in run()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "-1"], "negative"),
        (["--since", "week"], "not a whole number of seconds"),
        (["--batch-size", "0"], "must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args, "--no-input")


def test_a_database_error_is_a_command_error_not_a_traceback(rows, monkeypatch):
    def down(self: QuerySet[Any]) -> Any:
        raise OperationalError("database is down")

    monkeypatch.setattr(QuerySet, "delete", down)
    with pytest.raises(CommandError, match="could not clear stale results: database is down"):
        run("--no-input")


def test_deletes_run_in_batches_of_the_given_size():
    for n in range(10):
        make(f"old_{n}", done=8 * DAY)
    make("keep", done=60)
    with CaptureQueriesContext(connection) as queries:
        out = run("--no-input", "--batch-size", "3")
    assert "Deleted 10 task result(s)" in out
    assert remaining() == {"keep"}
    statements = [q["sql"] for q in queries.captured_queries if "taskresult" in q["sql"]]
    deletes = [sql for sql in statements if sql.startswith("DELETE")]
    # Keys 1..10 in ranges of 3: (0, 3], (3, 6], (6, 9], (9, 10]; the unfinished pass finds no
    # row and deletes nothing.
    assert len(deletes) == 4
    assert all('"id" >' in sql and '"id" <=' in sql for sql in deletes)


def test_batches_of_a_table_without_an_integer_key_read_each_batchs_last_key():
    for n in range(7):
        SeenSignature.objects.create(jti=f"jwt_{n}", task_id="m", expires_at=ago(60))
    with CaptureQueriesContext(connection) as queries:
        assert delete_in_batches(SeenSignature.objects.all(), 3) == 7
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    assert not SeenSignature.objects.exists()


def test_delete_in_batches_skips_rows_outside_the_queryset():
    for n in range(7):
        make(f"old_{n}", done=8 * DAY)
        make(f"new_{n}", done=60)
    assert delete_in_batches(TaskResult.objects.filter(date_done__lt=ago(DAY)), 2) == 7
    assert remaining() == {f"new_{n}" for n in range(7)}
    assert delete_in_batches(SeenSignature.objects.all(), 2) == 0


def test_clear_stale_results_returns_a_report(rows):
    report = clear_stale_results(7 * DAY, batch_size=2)
    assert (report.since, report.results, report.signatures, report.dry_run) == (
        7 * DAY,
        4,
        1,
        False,
    )
    assert report.as_dict()["results"] == 4
    with pytest.raises(ValueError, match=">= 0"):
        clear_stale_results(-1)
    with pytest.raises(ValueError, match=">= 1"):
        clear_stale_results(1, batch_size=0)
