"""What Django's own tests for ``django.tasks`` expect of a backend, on ImmediateBackend and live
on QStashBackend (dev server -> gunicorn, two workers -> the results app's row -> get_result).

Each test runs on both backends (the ``contract`` fixture), so it tests Django's contract and
not this backend's dialect. Where the ImmediateBackend cannot do something (it keeps no results,
has no ``run_after``), the test says so by skipping, or pins the difference it documents.
"""

from __future__ import annotations

import asyncio
import datetime
import math
from collections import UserDict, UserList, defaultdict

import pytest
from django.utils import timezone

from django_qstash.tasks_compat import FRAMEWORK, InvalidTask, TaskResultStatus
from tests.apps.djangotasks import tasks, unimported

if FRAMEWORK == "django.tasks":
    from django.tasks import default_task_backend
else:
    from django_tasks import default_task_backend

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def needs_stored_results(contract):
    if not default_task_backend.supports_get_result:
        pytest.skip(f"{contract.name}: the backend keeps no results (supports_get_result=False)")


def assert_timestamps_in_order(result):
    # As Django's backend tests: every timestamp set, each no earlier than the one before.
    assert None not in (
        result.enqueued_at,
        result.started_at,
        result.last_attempted_at,
        result.finished_at,
    )
    assert result.started_at >= result.enqueued_at
    assert result.last_attempted_at >= result.started_at
    assert result.finished_at >= result.started_at


# ------------------------------------------------------------------ 1. timestamps


def test_a_finished_result_has_every_timestamp_and_refresh_keeps_enqueued_at(contract):
    result = tasks.add.enqueue(2, 3)
    enqueued_at = result.enqueued_at
    assert enqueued_at is not None
    contract.settle(result)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.enqueued_at == enqueued_at
    assert_timestamps_in_order(result)
    assert result.attempts == 1


def test_get_result_carries_the_timestamps(contract):
    needs_stored_results(contract)
    result = contract.settle(tasks.add.enqueue(4, 5))
    fetched = tasks.add.get_result(result.id)
    assert fetched.status == TaskResultStatus.SUCCESSFUL
    assert_timestamps_in_order(fetched)
    assert (fetched.enqueued_at, fetched.started_at, fetched.finished_at) == (
        result.enqueued_at,
        result.started_at,
        result.finished_at,
    )
    assert fetched.last_attempted_at == result.last_attempted_at


def test_async_get_result_and_arefresh_carry_the_timestamps(contract):
    needs_stored_results(contract)
    result = contract.settle(tasks.add.enqueue(6, 7))
    fetched = asyncio.run(default_task_backend.aget_result(result.id))
    assert_timestamps_in_order(fetched)
    for name in ("enqueued_at", "started_at", "last_attempted_at", "finished_at"):
        object.__setattr__(fetched, name, None)
    asyncio.run(fetched.arefresh())
    assert_timestamps_in_order(fetched)
    assert fetched.enqueued_at == result.enqueued_at


# ------------------------------------------------------------------ 2. what a task raises


def test_a_task_raising_system_exit_is_failed_and_the_worker_keeps_serving(contract):
    workers = contract.workers()
    result = contract.settle(tasks.exit_process.enqueue(1))
    assert result.status == TaskResultStatus.FAILED
    (error,) = result.errors
    assert error.exception_class is SystemExit
    assert error.traceback.endswith("SystemExit: 1\n"), error.traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value
    assert_timestamps_in_order(result)
    # The process that ran it is still there, and serves the next delivery.
    following = contract.settle(tasks.add.enqueue(1, 1))
    assert following.status == TaskResultStatus.SUCCESSFUL
    assert contract.workers() == workers


def test_a_task_raising_generator_exit_is_failed(contract):
    result = contract.settle(tasks.close_generator.enqueue())
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is GeneratorExit


# ------------------------------------------------------------------ 3. options given with using()


def test_the_result_has_the_task_as_enqueued_with_its_using_options(contract):
    configured = tasks.context_snapshot.using(queue_name="emails")
    if default_task_backend.supports_defer:
        configured = configured.using(
            run_after=timezone.now() + datetime.timedelta(milliseconds=1500)
        )
    else:
        with pytest.raises(InvalidTask):
            configured.using(run_after=timezone.now())
    result = configured.enqueue()
    assert result.task == configured
    contract.settle(result)
    assert result.task == configured
    seen = result.return_value
    assert seen["queue_name"] == "emails"
    run_after = configured.run_after
    assert seen["run_after"] == (run_after.isoformat() if run_after else None)
    if run_after is not None:
        assert result.started_at >= run_after.replace(microsecond=0)
    if default_task_backend.supports_get_result:
        assert tasks.context_snapshot.get_result(result.id).task == configured


def test_priority_where_the_backend_has_priorities(contract):
    if default_task_backend.supports_priority:
        result = contract.settle(tasks.add.using(priority=10).enqueue(1, 2))
        assert result.task.priority == 10
    else:
        # QStash has no priorities: refused, not silently ignored (docs/django-tasks.md).
        with pytest.raises(InvalidTask, match="priority"):
            tasks.add.using(priority=10)


# ------------------------------------------------------------------ 4. argument normalisation


def test_arguments_are_normalised_as_django_normalises_them(contract):
    counts = defaultdict(int, {"a": 1})
    result = tasks.echo.enqueue(
        b"caf\xc3\xa9",
        UserList([1, 2]),
        (3, (4, 5)),
        mapping=UserDict({"k": b"v", "n": [b"w"]}),
        counts=counts,
    )
    expected_args = ["café", [1, 2], [3, [4, 5]]]
    expected_kwargs = {"mapping": {"k": "v", "n": ["w"]}, "counts": {"a": 1}}
    assert (result.args, result.kwargs) == (expected_args, expected_kwargs)
    contract.settle(result)
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    # The function got what the result shows: the normalised values.
    assert result.return_value == {
        "args": expected_args,
        "kwargs": expected_kwargs,
        "types": ["str", "list", "list"],
    }


def test_undecodable_bytes_are_an_unsupported_value(contract):
    workers = contract.workers()
    with pytest.raises(ValueError, match="Unsupported value"):
        tasks.echo.enqueue(b"\xff\xfe")
    with pytest.raises(ValueError, match="Unsupported value"):
        tasks.echo.enqueue(payload={"nested": [b"\x80"]})
    assert contract.workers() == workers


def test_a_value_of_another_type_is_an_unsupported_type(contract):
    with pytest.raises(TypeError):
        tasks.echo.enqueue(datetime.date(2026, 1, 1))
    with pytest.raises(TypeError):
        tasks.echo.enqueue(items={1, 2})


def test_nan_and_infinity(contract):
    if contract.is_live:
        # QStash messages are strict JSON: refused before anything is published.
        for value in (math.nan, math.inf, -math.inf):
            with pytest.raises(TypeError, match="NaN and infinity are not valid JSON"):
                tasks.echo.enqueue(value)
    else:
        # Django's normalize_json lets them through, and the ImmediateBackend passes them on.
        result = tasks.echo.enqueue(math.inf)
        assert result.return_value["args"] == [math.inf]


def test_dict_keys_that_are_not_strings(contract):
    result = contract.settle(tasks.echo.enqueue(mapping={1: "one"}))
    received = result.return_value["kwargs"]["mapping"]
    if contract.is_live:
        assert received == {"1": "one"}  # a JSON message: keys become strings (documented)
    else:
        assert received == {1: "one"}  # Django's in-process backends pass them on as they are


# ------------------------------------------------------------------ 5. found by module path


def test_a_task_in_a_module_only_its_path_names_runs(contract):
    result = contract.settle(unimported.multiply.enqueue(6, 7))
    assert result.status == TaskResultStatus.SUCCESSFUL, result.errors
    assert result.return_value == 42


# ------------------------------------------------------------------ 6. the context


def test_the_running_task_sees_when_it_was_enqueued(contract):
    result = contract.settle(tasks.context_snapshot.enqueue())
    seen = result.return_value
    assert seen["enqueued_at"] == result.enqueued_at.isoformat()
    assert datetime.datetime.fromisoformat(seen["started_at"]) >= result.enqueued_at
    assert seen["id"] == result.id
    assert seen["attempt"] == 1
    assert seen["queue_name"] == "default"
