"""QStashBackend: capabilities, validation, registration, and what enqueue publishes."""

from __future__ import annotations

import asyncio
import datetime
import math

import django
import pytest
from django.test import override_settings
from django.utils import timezone

from django_qstash import hooks, shared_task
from django_qstash.backends import DjangoTaskAdapter, QStashBackend, QStashTask
from django_qstash.exceptions import ArgumentsNotSerializable, PublishError
from django_qstash.registry import registry
from django_qstash.tasks_compat import FRAMEWORK, InvalidTask, TaskResultStatus
from tests.support.interceptor import Taker
from tests.tasks_backend import tasks
from tests.tasks_backend.conftest import QSTASH_TASKS

if FRAMEWORK == "django.tasks":
    from django.tasks import task, task_backends
else:
    from django_tasks import task, task_backends

WEBHOOK = "http://127.0.0.1:8000/qstash/webhook/"


@shared_task
def shared_add(a: int, b: int) -> int:
    return a + b


def backend() -> QStashBackend:
    instance = task_backends["default"]
    assert isinstance(instance, QStashBackend)
    return instance


# ------------------------------------------------------------------ capabilities


def test_the_backend_and_its_task_class():
    assert isinstance(tasks.add, QStashTask)
    assert backend().task_class is QStashTask
    assert backend().supports_defer is True
    assert backend().supports_async_task is True
    assert backend().supports_priority is False


def test_get_result_is_supported_exactly_when_a_result_store_is_registered(no_result_store):
    assert backend().supports_get_result is False
    hooks.register_result_store(object())  # type: ignore[arg-type]
    try:
        assert backend().supports_get_result is True
        with override_settings(
            TASKS={"default": {**QSTASH_TASKS["default"], "OPTIONS": {"get_result": False}}}
        ):
            assert backend().supports_get_result is False
    finally:
        hooks.unregister_result_store()


# ------------------------------------------------------------------ validation (Django's rules)


def test_a_function_that_is_not_module_level_is_refused():
    def local(x):
        return x

    with pytest.raises(InvalidTask, match="module level"):
        task(local)


def test_takes_context_needs_a_first_argument_named_context():
    with pytest.raises(InvalidTask, match="context"):
        task(takes_context=True)(tasks.plain)


def test_priority_is_refused_because_qstash_has_none():
    with pytest.raises(InvalidTask, match="priority"):
        tasks.add.using(priority=10)
    assert tasks.add.using(priority=0).priority == 0


def test_run_after_must_be_aware_with_use_tz():
    with pytest.raises(InvalidTask, match="aware"):
        tasks.add.using(run_after=datetime.datetime(2030, 1, 1))


def test_the_queue_must_be_one_of_queues():
    with pytest.raises(InvalidTask, match="nope"):
        tasks.add.using(queue_name="nope")
    assert tasks.add.using(queue_name="emails").queue_name == "emails"


def test_async_functions_are_accepted():
    assert tasks.async_add.func.__name__ == "async_add"


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"max_retries": -1}, "max_retries must be a whole number >= 0"),
        ({"max_retries": True}, "max_retries must be a whole number >= 0"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"retry_delay": ""}, "retry_delay must be a non-empty string"),
        ({"content_based_deduplication": "yes"}, "content_based_deduplication must be True"),
    ],
)
def test_bad_qstash_option_values_are_refused(options, error):
    with pytest.raises(InvalidTask, match=error):
        tasks.add.using(**options)


def test_using_refuses_an_unknown_option():
    with pytest.raises(TypeError, match="retries_max"):
        tasks.add.using(retries_max=3)


# ------------------------------------------------------------------ registration


def test_a_task_is_registered_for_the_webhook_under_its_module_path():
    name = "tests.tasks_backend.tasks.add"
    assert tasks.add.module_path == name
    adapter = hooks.get_task(name)
    assert isinstance(adapter, DjangoTaskAdapter)
    assert adapter.django_task.func is tasks.add.func
    # A modified copy is the same task for the webhook.
    tasks.add.using(queue_name="emails", max_retries=1)
    assert registry.get(name) is adapter


def test_the_context_parameter_is_not_part_of_the_message_signature():
    adapter = hooks.get_task(tasks.context_info.module_path)
    adapter.bind_arguments(["key"], {})
    with pytest.raises(TypeError):
        adapter.bind_arguments([], {})


# ------------------------------------------------------------------ enqueue: the wire format


def test_enqueue_publishes_the_same_envelope_as_delay(qstash, no_result_store):
    result = tasks.add.enqueue(1, b=2)
    shared_add.delay(1, b=2)
    task_request, shared_request = qstash.requests
    assert task_request.path == shared_request.path == f"/v2/publish/{WEBHOOK}"
    assert task_request.headers["Content-Type"] == "application/json"
    body = task_request.json()
    # The same envelope, plus when the task was enqueued (for the context and get_result).
    assert body.pop("options") == {"django_task": {"enqueued_at": result.enqueued_at.isoformat()}}
    assert body == {
        "v": 1,
        "task": "tests.tasks_backend.tasks.add",
        "args": [1],
        "kwargs": {"b": 2},
    }
    assert shared_request.json() == {**body, "task": shared_add.name}
    assert "Upstash-Not-Before" not in task_request.headers
    assert "Upstash-Retries" not in task_request.headers

    assert result.id == "msg_recorded"
    assert result.status == TaskResultStatus.READY
    assert result.task is tasks.add
    assert result.args == [1]
    assert result.kwargs == {"b": 2}
    assert result.backend == "default"
    assert result.enqueued_at is not None
    assert timezone.is_aware(result.enqueued_at)
    assert result.started_at is None
    assert result.finished_at is None
    assert result.attempts == 0
    with pytest.raises(ValueError, match="not finished"):
        result.return_value


def test_enqueue_sends_task_enqueued(qstash, task_signals, no_result_store):
    result = tasks.add.enqueue(1, 2)
    (seen,) = task_signals.seen
    assert (seen.signal, seen.sender, seen.status) == ("enqueued", QStashBackend, "READY")
    assert seen.result is result


def test_run_after_becomes_upstash_not_before(qstash, no_result_store):
    when = timezone.now() + datetime.timedelta(minutes=5, microseconds=1)
    tasks.add.using(run_after=when).enqueue(1, 2)
    headers = qstash.requests[0].headers
    assert headers["Upstash-Not-Before"] == str(math.ceil(when.timestamp()))
    assert "Upstash-Delay" not in headers


def test_run_after_may_be_a_timedelta_counted_from_now(qstash, no_result_store):
    before = timezone.now()
    deferred = tasks.add.using(run_after=datetime.timedelta(minutes=10))
    assert isinstance(deferred.run_after, datetime.datetime)
    deferred.enqueue(1, 2)
    not_before = int(qstash.requests[0].headers["Upstash-Not-Before"])
    assert before.timestamp() + 600 <= not_before <= timezone.now().timestamp() + 601


def test_a_queue_name_other_than_default_is_a_qstash_queue(qstash, no_result_store):
    tasks.queued.enqueue(1)
    tasks.add.using(queue_name="emails").enqueue(1, 2)
    paths = [r.path for r in qstash.requests]
    assert paths == [f"/v2/enqueue/emails/{WEBHOOK}"] * 2


def test_a_deferred_task_on_a_queue_keeps_its_not_before(qstash, no_result_store):
    when = timezone.now() + datetime.timedelta(hours=1)
    tasks.queued.using(run_after=when).enqueue(1)
    request = qstash.requests[0]
    assert request.path == f"/v2/enqueue/emails/{WEBHOOK}"
    assert request.headers["Upstash-Not-Before"] == str(math.ceil(when.timestamp()))


def test_qstash_options_become_headers_and_max_retries_travels_in_the_message(
    qstash, no_result_store
):
    options = {
        "max_retries": 2,
        "timeout": 30,
        "retry_delay": "1000 * retried",
        "deduplication_id": "order-1",
        "callback": "https://cb.example/ok",
        "failure_callback": "https://cb.example/failed",
        "label": "reports",
    }
    result = tasks.add.using(**options).enqueue(1, 2)
    request = qstash.requests[0]
    headers = request.headers
    assert headers["Upstash-Retries"] == "2"
    assert headers["Upstash-Timeout"] == "30s"
    assert headers["Upstash-Retry-Delay"] == "1000 * retried"
    assert headers["Upstash-Deduplication-Id"] == "order-1"
    assert headers["Upstash-Callback"] == "https://cb.example/ok"
    assert headers["Upstash-Failure-Callback"] == "https://cb.example/failed"
    assert headers["Upstash-Label"] == "reports"
    # The message carries max_retries for the webhook, and the task as enqueued for its result.
    assert request.json()["options"] == {
        "max_retries": 2,
        "django_task": {"enqueued_at": result.enqueued_at.isoformat(), **options},
    }


def test_options_set_defaults_that_a_task_overrides(qstash, no_result_store):
    configured = {
        "default": {
            **QSTASH_TASKS["default"],
            "OPTIONS": {"max_retries": 5, "timeout": "2m", "label": "site"},
        }
    }
    with override_settings(TASKS=configured):
        tasks.add.enqueue(1, 2)
        tasks.add.using(max_retries=0, label="mine").enqueue(1, 2)
    first, second = (r.headers for r in qstash.requests)
    assert (first["Upstash-Retries"], first["Upstash-Timeout"], first["Upstash-Label"]) == (
        "5",
        "2m",
        "site",
    )
    assert (second["Upstash-Retries"], second["Upstash-Timeout"], second["Upstash-Label"]) == (
        "0",
        "2m",
        "mine",
    )


TASK_KWARGS_IN_DECORATOR = not (FRAMEWORK == "django.tasks" and django.VERSION[:2] == (6, 0))


@pytest.mark.skipif(not TASK_KWARGS_IN_DECORATOR, reason="Django 6.0's @task takes no extra kwargs")
def test_the_decorator_takes_qstash_options(qstash, no_result_store):
    configured = task(max_retries=4, timeout="1m")(tasks.plain)
    assert isinstance(configured, QStashTask)
    assert (configured.max_retries, configured.timeout) == (4, "1m")
    configured.enqueue(1)
    assert qstash.requests[0].headers["Upstash-Retries"] == "4"


@pytest.mark.skipif(TASK_KWARGS_IN_DECORATOR, reason="only Django 6.0 refuses them")
def test_on_django_60_the_decorator_refuses_options_and_using_is_the_route(qstash, no_result_store):
    with pytest.raises(TypeError):
        task(max_retries=4)(tasks.plain)
    configured = task(tasks.plain).using(max_retries=4)
    configured.enqueue(1)
    assert qstash.requests[0].headers["Upstash-Retries"] == "4"


def test_arguments_that_are_not_json_are_refused_before_publishing(qstash):
    with pytest.raises(ArgumentsNotSerializable, match=r"args\[0\] is a datetime"):
        tasks.add.enqueue(datetime.datetime.now(), 1)
    assert isinstance(ArgumentsNotSerializable("x"), TypeError)
    assert qstash.requests == []


def test_arguments_that_do_not_fit_the_function_are_refused_before_publishing(qstash):
    with pytest.raises(TypeError, match="missing a required argument"):
        tasks.add.enqueue(1)
    with pytest.raises(TypeError):
        tasks.context_info.enqueue("key", "extra")
    assert qstash.requests == []


def test_the_result_store_hears_of_the_published_message(qstash, fake_store):
    result = tasks.add.enqueue(1, 2)
    assert fake_store.published == [(result.id, "tests.tasks_backend.tasks.add", [1, 2], {})]


def test_a_failed_publish_raises_and_sends_no_signal(recorder, task_signals, no_result_store):
    recorder.answer = (401, {"error": "bad token"}, {})
    with override_settings(QSTASH_URL=recorder.url), pytest.raises(PublishError, match="401"):
        tasks.add.enqueue(1, 2)
    assert task_signals.seen == []


def test_aenqueue(qstash, no_result_store):
    result = asyncio.run(tasks.add.aenqueue(3, 4))
    assert result.id == "msg_recorded"
    assert qstash.requests[0].json()["args"] == [3, 4]


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_enqueue_and_aenqueue_are_offered_to_the_publish_interceptor(
    interceptor: Taker, qstash, no_result_store
):
    assert tasks.add.enqueue(1, 2).id == "held-0"
    assert asyncio.run(tasks.add.aenqueue(3, 4)).id == "held-0"
    assert [[m.args for m in call] for call in interceptor.seen] == [[[1, 2]], [[3, 4]]]
    assert qstash.requests == []


def test_aenqueue_publishes_without_sync_to_async(
    qstash, task_signals, no_result_store, monkeypatch
):
    from asgiref.sync import SyncToAsync

    hops: list[object] = []
    original = SyncToAsync.__call__

    async def observed(self: SyncToAsync, *args: object, **kwargs: object) -> object:  # type: ignore[type-arg]
        hops.append(self.func)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", observed)
    result = asyncio.run(tasks.add.aenqueue(3, 4))
    tasks.add.enqueue(3, 4)
    async_request, sync_request = qstash.requests
    async_body, sync_body = async_request.json(), sync_request.json()
    # Each message says when it was enqueued (the async one as its TaskResult does); the rest
    # is the same.
    enqueued_at = async_body["options"]["django_task"].pop("enqueued_at")
    assert enqueued_at == result.enqueued_at.isoformat()
    assert sync_body["options"]["django_task"].pop("enqueued_at")
    assert async_body == sync_body
    assert async_request.path == sync_request.path
    # Only the (sync) task_enqueued receiver ran in a thread, as Django runs them; the publish did not.
    assert [getattr(h, "__qualname__", "?") for h in hops] == [
        "Signal.asend_robust.<locals>.sync_send"
    ]
    assert task_signals.seen[0].result is result


# ------------------------------------------------------------------ eager mode


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_mode_runs_the_task_now_and_returns_a_finished_result(qstash, task_signals):
    result = tasks.add.enqueue(2, 3)
    assert qstash.requests == []
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5
    assert result.attempts == 1
    assert len(result.id) == 32
    assert task_signals.names == ["enqueued", "started", "finished"]
    assert [s.status for s in task_signals.seen] == ["READY", "RUNNING", "SUCCESSFUL"]
    assert all(s.result is result for s in task_signals.seen)


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_mode_records_a_failure_like_the_immediate_backend(qstash):
    result = tasks.explode.enqueue("eager")
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is ValueError
    assert "eager" in result.errors[0].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value
    with override_settings(DJANGO_QSTASH_EAGER_PROPAGATES=True), pytest.raises(ValueError):
        tasks.explode.enqueue("propagated")


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_mode_passes_the_context(qstash):
    result = tasks.context_info.enqueue("k")
    assert result.return_value["attempt"] == 1
    assert result.return_value["id"] == result.id
    assert result.return_value["status"] == "RUNNING"


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_a_task_enqueued_by_an_eager_task_gets_its_own_result(qstash):
    outer = tasks.enqueue_add.enqueue(1, 2)
    assert outer.return_value == 3
    assert tasks.calls == [("add", 1, 2), ("enqueue_add", TaskResultStatus.SUCCESSFUL, 3)]
    assert outer.task is tasks.enqueue_add
