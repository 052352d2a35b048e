"""The database result store, called the way core calls it: claim decisions and outcome writes."""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError
from django.db.models.query import QuerySet
from django.test import override_settings
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.locks import AdvisoryLocks, FileLocks, ProcessLocks
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus
from django_qstash.results.store import DatabaseResultStore, jsonable_result
from tests.results.conftest import other_session_holds, results_sql_fails
from tests.support.commits import is_write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("claim_mode")]

RUN = hooks.ClaimDecision.RUN
IN_PROGRESS = hooks.ClaimDecision.IN_PROGRESS
ALREADY_SUCCEEDED = hooks.ClaimDecision.ALREADY_SUCCEEDED
REPLAYED = hooks.ClaimDecision.REPLAYED


def delivery(
    message_id: str = "msg_1",
    *,
    task: str = "example.tasks.record",
    args: list[Any] | None = None,
    kwargs: dict[str, Any] | None = None,
    retried: int = 0,
    jti: str | None = "",
    exp: float | None = None,
    schedule_id: str | None = None,
    max_retries: int | None = None,
) -> hooks.Delivery:
    return hooks.Delivery(
        message_id=message_id,
        task_name=task,
        args=["k"] if args is None else args,
        kwargs={} if kwargs is None else kwargs,
        retried=retried,
        max_retries=max_retries,
        schedule_id=schedule_id,
        signature_id=f"jwt_{uuid.uuid4().hex}" if jti == "" else jti,
        signature_expires=time.time() + 300 if exp is None else exp,
    )


@pytest.fixture
def db_store() -> Iterator[DatabaseResultStore]:
    store = DatabaseResultStore()
    yield store
    store.release_locks()


def row(message_id: str = "msg_1") -> TaskResult:
    return TaskResult.objects.get(task_id=message_id)


def hold(db_store: DatabaseResultStore, *keys: str) -> Any:
    """Take lock-mode locks as another delivery (another thread or process) would."""
    locks = db_store.locks_for("default")
    assert locks is not None
    if isinstance(locks, AdvisoryLocks):
        return other_session_holds(*keys)
    held = locks.try_acquire(list(keys))
    assert not isinstance(held, str)
    return held


only_row = pytest.mark.parametrize("claim_mode", ["row"], indirect=True)
only_lock = pytest.mark.parametrize("claim_mode", ["lock"], indirect=True)


def test_the_app_registers_this_store():
    assert isinstance(hooks.get_result_store(), DatabaseResultStore)
    assert isinstance(hooks.get_result_store(), hooks.ResultStore)


# ------------------------------------------------------------------------------ claim


def test_the_mode_follows_the_setting(db_store, claim_mode):
    assert db_store.claim_mode() == claim_mode


@pytest.mark.parametrize("claim_mode", ["auto"], indirect=True)
def test_auto_is_lock_on_sqlite_and_postgresql_and_row_elsewhere(db_store, monkeypatch):
    from django.db import connection

    assert db_store.claim_mode() == "lock"
    assert connection.vendor in ("sqlite", "postgresql")
    kind = AdvisoryLocks if connection.vendor == "postgresql" else (FileLocks, ProcessLocks)
    assert isinstance(db_store.locks_for("default"), kind)
    # Django's connection pool hands a connection, and the advisory locks it holds, to the next
    # request: auto claims by row there.
    from django.db import connections

    wrapper = connections["default"]
    monkeypatch.setitem(wrapper.settings_dict, "OPTIONS", {**wrapper.settings_dict["OPTIONS"]})
    wrapper.settings_dict["OPTIONS"]["pool"] = True
    assert db_store.claim_mode() == "row"


@only_row
def test_row_mode_claims_a_new_message_as_started(db_store):
    d = delivery(args=["a", 1], kwargs={"x": [1]}, retried=2, schedule_id="scd_1")
    assert db_store.claim(d) is RUN
    _assert_started(row())


@only_lock
def test_lock_mode_claims_without_writing(db_store):
    assert db_store.claim(delivery()) is RUN
    assert not TaskResult.objects.exists()
    assert not SeenSignature.objects.exists()


@only_lock
@override_settings(DJANGO_QSTASH_RESULTS_TRACK_STARTED=True)
def test_lock_mode_tracks_started_when_asked(db_store):
    d = delivery(args=["a", 1], kwargs={"x": [1]}, retried=2, schedule_id="scd_1")
    assert db_store.claim(d) is RUN
    _assert_started(row())
    assert SeenSignature.objects.count() == 1
    db_store.record_success(d, 1, 0.0)
    assert (row().status, SeenSignature.objects.count()) == (TaskStatus.SUCCESS, 1)


def _assert_started(r: TaskResult) -> None:
    assert r.status == TaskStatus.STARTED
    assert (r.task_name, r.args, r.kwargs) == ("example.tasks.record", ["a", 1], {"x": [1]})
    assert r.attempts == 3
    assert r.schedule_id == "scd_1"
    assert r.date_started is not None
    assert r.date_done is None


@only_row
def test_row_mode_a_redelivery_while_the_first_runs_is_in_progress(db_store):
    assert db_store.claim(delivery()) is RUN
    assert db_store.claim(delivery()) is IN_PROGRESS
    assert db_store.claim(delivery(retried=1)) is IN_PROGRESS
    assert row().attempts == 1


@only_lock
def test_lock_mode_a_redelivery_while_the_first_runs_is_in_progress(db_store):
    held = hold(db_store, "msg:msg_1")
    assert db_store.claim(delivery()) is IN_PROGRESS
    assert db_store.claim(delivery(retried=1)) is IN_PROGRESS
    held.release()
    assert db_store.claim(delivery()) is RUN


@only_lock
def test_lock_mode_a_redelivery_of_a_succeeded_message_held_by_another_is_a_duplicate(db_store):
    # Parallel redeliveries of a finished message: the one holding the lock only turns a
    # duplicate away, so the others are duplicates too, never a 409 (QStash would retry it, and
    # dead-letter a message that succeeded once its retries are spent).
    assert db_store.claim(delivery()) is RUN
    db_store.record_success(delivery(), "k", 0.1)
    held = hold(db_store, "msg:msg_1")
    assert db_store.claim(delivery(retried=1)) is ALREADY_SUCCEEDED
    replayed = delivery(retried=1)
    assert db_store.claim(replayed) is ALREADY_SUCCEEDED
    assert db_store.claim(replayed) is REPLAYED  # its token is remembered all the same
    held.release()


@only_lock
def test_lock_mode_ignores_a_started_row_nobody_holds(db_store):
    # A STARTED row whose worker died: its locks went with its process.
    TaskResult.objects.create(task_id="msg_1", task_name="t", status=TaskStatus.STARTED)
    TaskResult.objects.update(date_started=timezone.now())
    assert db_store.claim(delivery(retried=1)) is RUN


@only_row
def test_row_mode_a_started_row_older_than_the_lease_is_claimed_again(db_store, caplog):
    assert db_store.claim(delivery()) is RUN
    TaskResult.objects.update(date_started=timezone.now() - datetime.timedelta(seconds=901))
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        assert db_store.claim(delivery(retried=1)) is RUN
    assert "never finished" in caplog.text
    assert row().attempts == 2
    assert (timezone.now() - row().date_started).total_seconds() < 60


@only_row
@override_settings(DJANGO_QSTASH_RESULTS_STARTED_LEASE=10)
def test_the_lease_is_a_setting(db_store):
    assert db_store.claim(delivery()) is RUN
    TaskResult.objects.update(date_started=timezone.now() - datetime.timedelta(seconds=11))
    assert db_store.claim(delivery()) is RUN


def test_a_succeeded_message_is_not_run_again(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_success(d, {"ok": True}, 0.01)
    assert db_store.claim(delivery()) is ALREADY_SUCCEEDED
    assert db_store.claim(delivery(retried=5)) is ALREADY_SUCCEEDED
    assert row().result == {"ok": True}


def test_a_message_whose_task_republished_itself_is_not_run_again(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_retry(d, ValueError("later"), 10)
    assert db_store.claim(delivery(retried=1)) is ALREADY_SUCCEEDED


@pytest.mark.parametrize("final", [True, False])
def test_a_failed_message_runs_on_its_next_attempt(db_store, final, claim_mode):
    d = delivery()
    db_store.claim(d)
    db_store.record_failure(d, ValueError("boom"), "tb", final=final, duration=0.1)
    assert row().status == (TaskStatus.FAILURE if final else TaskStatus.RETRY)
    again = delivery(retried=1)
    assert db_store.claim(again) is RUN
    r = row()
    if claim_mode == "row":
        assert (r.status, r.attempts, r.date_done) == (TaskStatus.STARTED, 2, None)
    db_store.record_success(again, "ok", 0.0)
    r.refresh_from_db()
    assert (r.status, r.attempts, r.result, r.exception_type) == (TaskStatus.SUCCESS, 2, "ok", "")


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_a_pending_row_from_publishing_is_claimed(db_store):
    db_store.record_published("msg_1", "example.tasks.record", ["k"], {})
    assert row().status == TaskStatus.PENDING
    assert row().attempts == 0
    d = delivery()
    assert db_store.claim(d) is RUN
    db_store.record_success(d, "done", 0.0)
    assert (row().status, row().attempts, row().args) == (TaskStatus.SUCCESS, 1, ["k"])


def test_a_replayed_signature_is_refused_and_writes_nothing(db_store):
    first = delivery(jti="jwt_same")
    assert db_store.claim(first) is RUN
    db_store.record_success(first, 1, 0.0)
    before = list(TaskResult.objects.values_list("task_id", "status", "attempts"))
    # The same token again, whatever message id or attempt number the request claims.
    assert db_store.claim(delivery(jti="jwt_same")) is REPLAYED
    assert db_store.claim(delivery("msg_other", jti="jwt_same", retried=3)) is REPLAYED
    assert list(TaskResult.objects.values_list("task_id", "status", "attempts")) == before
    assert SeenSignature.objects.count() == 1


@only_row
def test_row_mode_refuses_a_replay_even_while_the_first_request_runs(db_store):
    assert db_store.claim(delivery(jti="jwt_same")) is RUN
    assert db_store.claim(delivery("msg_2", jti="jwt_same")) is REPLAYED
    assert not TaskResult.objects.filter(task_id="msg_2").exists()


@only_lock
def test_lock_mode_refuses_a_replay_even_while_the_first_request_runs(db_store):
    held = hold(db_store, "jti:jwt_same", "msg:msg_1")
    assert db_store.claim(delivery("msg_2", jti="jwt_same")) is REPLAYED
    held.release()
    assert not TaskResult.objects.exists()


def test_signatures_are_remembered_until_they_expire_plus_the_clock_tolerance(db_store):
    exp = time.time() + 300
    d = delivery(jti="jwt_a", exp=exp)
    db_store.claim(d)
    db_store.record_success(d, None, 0.0)
    seen = SeenSignature.objects.get()
    assert seen.task_id == "msg_1"
    assert abs(seen.expires_at.timestamp() - (exp + 5)) < 1e-3


def test_a_delivery_without_a_jti_is_claimed_without_replay_protection(db_store):
    d = delivery(jti=None)
    assert db_store.claim(d) is RUN
    db_store.record_success(d, None, 0.0)
    assert SeenSignature.objects.count() == 0


@only_row
def test_losing_the_race_to_insert_the_row_starts_the_claim_over(db_store, monkeypatch):
    original = QuerySet.create
    raised: list[bool] = []

    def create(self: QuerySet[Any], **kwargs: Any) -> Any:
        if self.model is TaskResult and not raised:
            raised.append(True)
            raise IntegrityError("UNIQUE constraint failed: task_id")
        return original(self, **kwargs)

    monkeypatch.setattr(QuerySet, "create", create)
    assert db_store.claim(delivery(jti="jwt_x")) is RUN
    assert raised == [True]
    assert SeenSignature.objects.filter(jti="jwt_x").count() == 1


# ------------------------------------------------------------------------------ outcomes


def test_success_stores_the_value_and_times(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_success(d, [1, "two", {"3": None}], 0.25)
    r = row()
    assert (r.status, r.result, r.result_is_repr, r.duration) == (
        TaskStatus.SUCCESS,
        [1, "two", {"3": None}],
        False,
        0.25,
    )
    assert r.date_created <= r.date_started <= r.date_done


@pytest.mark.parametrize(
    "value",
    [{1, 2}, datetime.date(2024, 1, 2), object(), float("nan"), "nul\x00char", b"bytes"],
    ids=["set", "date", "object", "nan", "nul", "bytes"],
)
def test_a_value_that_is_not_json_is_stored_as_its_repr_with_a_flag(db_store, caplog, value):
    d = delivery()
    db_store.claim(d)
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        db_store.record_success(d, value, 0.0)
    r = row()
    assert r.status == TaskStatus.SUCCESS
    assert r.result_is_repr is True
    assert r.result == repr(value)
    assert "not JSON-serialisable" in caplog.text


def test_jsonable_result():
    assert jsonable_result({"a": [1, 2.5, None]}) == ({"a": [1, 2.5, None]}, False)
    loop: list[Any] = []
    loop.append(loop)
    assert jsonable_result(loop) == ("[[...]]", True)


def test_failure_stores_the_exception_and_the_full_traceback(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_failure(
        d, KeyError("missing"), "Traceback...\nKeyError", final=True, duration=1
    )
    r = row()
    assert r.status == TaskStatus.FAILURE
    assert r.exception_type == "builtins.KeyError"
    assert r.exception_message == "'missing'"
    assert r.traceback == "Traceback...\nKeyError"
    assert r.date_done is not None
    assert r.duration == 1


def test_the_outcome_of_an_older_delivery_never_replaces_success(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_success(d, "first", 0.0)
    db_store.record_failure(d, ValueError("late"), "tb", final=False, duration=0.0)
    db_store.record_retry(d, None, None)
    assert (row().status, row().result) == (TaskStatus.SUCCESS, "first")


@only_lock
@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_a_lock_mode_outcome_updates_a_pending_row_written_meanwhile(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_published("msg_1", "example.tasks.record", ["k"], {})
    db_store.record_success(d, "v", 0.0)
    assert (row().status, row().result) == (TaskStatus.SUCCESS, "v")


def test_an_outcome_whose_row_was_deleted_meanwhile_is_inserted(db_store):
    d = delivery(args=["a"], retried=1)
    db_store.claim(d)
    TaskResult.objects.all().delete()
    db_store.record_success(d, 7, 0.5)
    r = row()
    assert (r.status, r.result, r.args, r.attempts) == (TaskStatus.SUCCESS, 7, ["a"], 2)


def test_retry_marks_the_message_as_handled(db_store):
    d = delivery()
    db_store.claim(d)
    db_store.record_retry(d, ConnectionError("flaky"), 30)
    r = row()
    assert (r.status, r.republished) == (TaskStatus.RETRY, True)
    assert r.exception_type == "builtins.ConnectionError"
    assert r.duration is not None
    assert r.duration >= 0


def test_published_rows_are_opt_in(db_store):
    db_store.record_published("msg_p", "example.tasks.record", ["k"], {"v": 1})
    assert not TaskResult.objects.exists()


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_a_published_row_never_replaces_what_a_fast_delivery_wrote(db_store):
    d = delivery("msg_fast")
    db_store.claim(d)
    db_store.record_success(d, 1, 0.0)
    db_store.record_published("msg_fast", "example.tasks.record", ["k"], {})
    assert row("msg_fast").status == TaskStatus.SUCCESS


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
def test_a_failed_pending_write_is_logged_not_raised(db_store, monkeypatch, caplog):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is down")

    monkeypatch.setattr(QuerySet, "bulk_create", broken)
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        db_store.record_published("msg_p", "example.tasks.record", [], {})
    assert "the message was published" in caplog.text


def test_get(db_store):
    assert db_store.get("msg_nothing") is None
    d = delivery(args=[1], kwargs={"b": 2})
    db_store.claim(d)
    db_store.record_failure(d, ValueError("v"), "tb", final=True, duration=0.0)
    stored = db_store.get("msg_1")
    assert stored == hooks.StoredResult(
        task_id="msg_1",
        task_name="example.tasks.record",
        status="FAILURE",
        result=None,
        exception_type="builtins.ValueError",
        exception_message="v",
        traceback="tb",
        args=[1],
        kwargs={"b": 2},
        attempts=1,
        date_done=row().date_done,
        date_created=row().date_created,
        date_started=row().date_started,
    )


# ------------------------------------------------------------------------------ write retries


@pytest.mark.django_db(transaction=True)
def test_a_write_that_fails_once_is_retried_on_a_new_connection(db_store, caplog):
    d = delivery()
    db_store.claim(d)
    with (
        caplog.at_level(logging.WARNING, logger="django_qstash.results"),
        results_sql_fails(lambda sql: is_write(sql) and not refused) as refused,
    ):
        db_store.record_success(d, "ok", 0.0)
    assert len(refused) == 1
    assert row().status == TaskStatus.SUCCESS
    assert "retrying in" in caplog.text


@pytest.mark.django_db(transaction=True)
@override_settings(DJANGO_QSTASH_RESULTS_WRITE_RETRIES=1)
def test_a_write_that_keeps_failing_raises_after_the_retries(db_store, claim_mode):
    d = delivery()
    db_store.claim(d)
    with results_sql_fails(is_write) as refused, pytest.raises(OperationalError):
        db_store.record_success(d, "ok", 0.0)
    assert len(refused) == 2  # the first try and one retry
    if claim_mode == "row":
        assert row().status == TaskStatus.STARTED
    else:
        assert not TaskResult.objects.exists()


@only_lock
def test_lock_mode_keeps_the_locks_of_an_unstored_outcome_until_the_token_expires(
    db_store, monkeypatch
):
    d = delivery(jti="jwt_kept", exp=time.time() + 60)
    db_store.claim(d)
    with results_sql_fails(lambda sql: is_write(sql) and "taskresult" in sql):
        with pytest.raises(OperationalError):
            db_store.record_success(d, "ok", 0.0)
        # The outcome still cannot be written: the kept locks hold the message and its token.
        assert db_store.claim(delivery(retried=1)) is IN_PROGRESS
        assert db_store.claim(delivery("msg_2", jti="jwt_kept")) is REPLAYED
    assert not TaskResult.objects.exists()
    # Once the token has expired, core refuses it anyway, and the message is free again.
    monkeypatch.setattr(time, "time", lambda: d.signature_expires + 10)
    assert db_store.claim(delivery(retried=1)) is RUN


@only_lock
def test_lock_mode_writes_an_unstored_outcome_before_its_next_claim(db_store, caplog):
    d = delivery(jti="jwt_later", exp=time.time() + 60)
    db_store.claim(d)
    with results_sql_fails(is_write), pytest.raises(OperationalError):
        db_store.record_success(d, "ok", 0.0)
    # The database writes again: the next claim first stores the kept outcome, so the
    # redelivery is a duplicate and the row is complete.
    with caplog.at_level(logging.WARNING, logger="django_qstash.results"):
        assert db_store.claim(delivery(retried=1)) is ALREADY_SUCCEEDED
    assert "now that the database answers again" in caplog.text
    assert (row().status, row().result, row().attempts) == (TaskStatus.SUCCESS, "ok", 1)
    assert SeenSignature.objects.filter(jti="jwt_later").exists()
    assert db_store.claim(delivery("msg_2", jti="jwt_later")) is REPLAYED


@only_lock
def test_lock_mode_releases_the_locks_of_a_claim_whose_outcome_never_came(db_store):
    assert db_store.claim(delivery(jti="jwt_lost")) is RUN
    # The next claim in this thread means the previous request is over.
    assert db_store.claim(delivery("msg_2")) is RUN
    hold(db_store, "msg:msg_1", "jti:jwt_lost").release()


@only_lock
def test_lock_mode_releases_the_locks_when_the_claim_fails(db_store):
    with results_sql_fails(), pytest.raises(OperationalError):
        db_store.claim(delivery(jti="jwt_f"))
    assert db_store.claim(delivery(jti="jwt_f")) is RUN


@only_lock
def test_lock_mode_remembers_the_token_of_a_delivery_it_turns_away(db_store):
    held = hold(db_store, "msg:msg_1")
    assert db_store.claim(delivery(jti="jwt_turned_away")) is IN_PROGRESS
    held.release()
    assert SeenSignature.objects.filter(jti="jwt_turned_away").exists()
    # That token can never run the task later, whatever message id it comes with.
    assert db_store.claim(delivery("msg_other", jti="jwt_turned_away")) is REPLAYED


def test_the_result_of_a_task_follows_it_through_retry(db_store):
    first = delivery("msg_a")
    db_store.claim(first)
    db_store.record_retry(first, ConnectionError("flaky"), 5)
    assert db_store.get("msg_a").status == "RETRY"
    # retry() published the next attempt as a new message carrying the first one's task id.
    second = delivery("msg_b")
    second.options = {"task_id": "msg_a", "retries": 1}
    db_store.claim(second)
    db_store.record_success(second, "finally", 0.0)
    assert row("msg_b").request_id == "msg_a"
    assert row("msg_a").request_id == ""  # the message id itself: not stored again
    assert (db_store.get("msg_a").status, db_store.get("msg_a").result) == ("SUCCESS", "finally")
    assert db_store.get("msg_b").result == "finally"
    # Each message keeps its own row: a redelivery of the first one still runs nothing.
    assert db_store.claim(delivery("msg_a", retried=1)) is ALREADY_SUCCEEDED
    assert row("msg_a").status == TaskStatus.RETRY


def test_a_celery_task_id_given_at_publish_finds_its_result(db_store):
    d = delivery("msg_q")
    d.options = {"task_id": "my-own-id"}
    db_store.claim(d)
    db_store.record_success(d, 3, 0.0)
    assert db_store.get("my-own-id").result == 3
    assert db_store.get("msg_q").result == 3


def test_an_expired_message_is_stored_as_a_failure(db_store):
    from django_qstash.results.exceptions import TaskExpired

    d = delivery("msg_x")
    d.options = {"expires": "2000-01-01T00:00:00+00:00"}
    db_store.record_expired(d)
    r = row("msg_x")
    assert r.status == TaskStatus.FAILURE
    assert r.exception_type == "django_qstash.results.exceptions.TaskExpired"
    assert "expired at 2000-01-01T00:00:00+00:00" in r.exception_message
    assert r.date_done is not None
    assert r.date_started is None
    from django_qstash import AsyncResult

    with pytest.raises(TaskExpired):
        AsyncResult("msg_x").get(timeout=1)


@pytest.mark.parametrize("claim_mode", ["row"], indirect=True)
def test_an_unknown_claim_mode_is_refused_with_the_choices(db_store):
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(DJANGO_QSTASH_RESULTS_CLAIM_MODE="sometimes"),
        pytest.raises(ImproperlyConfigured, match=r"\['auto', 'lock', 'row'\]"),
    ):
        db_store.claim(delivery())


@override_settings(DJANGO_QSTASH_RESULTS_STORE_PENDING=True)
@pytest.mark.parametrize("published_first", [False, True])
def test_a_django_task_record_and_the_times_are_stored_and_read_back(db_store, published_first):
    if published_first:  # a PENDING row from publishing, which the delivery then updates
        db_store.record_published("msg_1", "example.tasks.record", ["k"], {})
    record = {"enqueued_at": "2026-01-02T03:04:05.000006+00:00", "queue_name": "emails"}
    attempt = delivery()
    attempt.options = {"django_task": record}
    assert db_store.claim(attempt) is RUN
    db_store.record_success(attempt, 1, 0.1)
    stored = db_store.get("msg_1")
    assert stored is not None
    assert stored.django_task == record
    assert stored.date_created == row().date_created
    assert stored.date_started == row().date_started is not None
    assert stored.date_done == row().date_done is not None


def test_a_row_without_a_django_task_record_reads_none(db_store):
    attempt = delivery()
    db_store.claim(attempt)
    db_store.record_success(attempt, 1, 0.1)
    assert db_store.get("msg_1").django_task is None
