"""Task and call options: honoured, mapped, or warned about once, never a crash."""

from __future__ import annotations

import datetime
import json
import logging
import warnings
from typing import Any

import pytest
from django.utils import timezone

from django_qstash import shared_task
from django_qstash.exceptions import IgnoredOptionWarning
from django_qstash.task import Task
from tests.celery_compat.conftest import WEBHOOK, deliver

ran: list[Any] = []


@shared_task
def noop(x: int = 0) -> int:
    ran.append(x)
    return x


@pytest.fixture(autouse=True)
def clear() -> None:
    ran.clear()


# ---------------------------------------------------------------------------------- warnings


def test_options_without_meaning_warn_once_per_task_and_option():
    with pytest.warns(IgnoredOptionWarning) as caught:

        @shared_task(
            name="tests.celery_compat.ignored_options",
            soft_time_limit=10,
            priority=5,
            compression="gzip",
            reject_on_worker_lost=True,
            acks_late=True,  # QStash always acknowledges late: honoured, no warning
            serializer="json",  # honoured
            typing=True,  # honoured
            track_started=True,  # the results app records STARTED
        )
        def ignored() -> None: ...

    messages = sorted(str(w.message) for w in caught)
    assert [m.split(":")[1].strip().split("=")[0] for m in messages] == [
        "Celery option compression",
        "Celery option priority",
        "Celery option reject_on_worker_lost",
        "Celery option soft_time_limit",
    ]
    assert "SoftTimeLimitExceeded" in next(m for m in messages if "soft_time_limit" in m)
    assert caught[0].filename == __file__  # points at the decorated function


@pytest.mark.parametrize(
    ("option", "value"), [("acks_late", False), ("serializer", "pickle"), ("typing", False)]
)
def test_options_that_cannot_be_honoured_warn(option, value):
    with pytest.warns(IgnoredOptionWarning, match=option):
        shared_task(name=f"tests.celery_compat.warn_{option}", **{option: value})(noop.run)


def test_call_options_without_meaning_warn_once(qstash):
    with pytest.warns(IgnoredOptionWarning) as caught:
        noop.apply_async(priority=9, exchange="x")
    assert ["priority=9" in str(w.message) for w in caught] == [True, False]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        noop.apply_async(priority=9)
    assert len(qstash.requests) == 2


def test_every_celery_option_is_accepted():
    from django_qstash.options import CELERY_OPTIONS

    values = {
        "autoretry_for": (KeyError,),
        "dont_autoretry_for": (),
        "retry_kwargs": {},
        "rate_limit": "1/s",
        "throws": (KeyError,),
        "base": Task,
    }
    options = {name: values.get(name, 1) for name in CELERY_OPTIONS - {"bind"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IgnoredOptionWarning)
        task = shared_task(name="tests.celery_compat.all_options", **options)(noop.run)
    assert task(3) == 3


# ---------------------------------------------------------------------------------- mapped


def test_rate_limit_becomes_qstash_flow_control(qstash):
    @shared_task(name="tests.celery_compat.limited", rate_limit="10/m")
    def limited() -> None: ...

    limited.delay()
    headers = qstash.requests[0].headers
    assert headers["Upstash-Flow-Control-Key"] == "tests.celery_compat.limited"
    assert headers["Upstash-Flow-Control-Value"] == "rate=10, period=1m"


@pytest.mark.parametrize(
    ("rate_limit", "expected"),
    [(5, (5, "1s")), ("2/s", (2, "1s")), ("100/h", (100, "1h")), ("0.5/s", (30, "1m"))],
)
def test_rate_limit_forms(rate_limit, expected):
    from django_qstash.options import flow_control_for

    control = flow_control_for("t", rate_limit)
    assert (control["rate"], control["period"]) == expected


def test_a_bad_rate_limit_is_an_error_at_definition():
    with pytest.raises(ValueError, match="rate_limit must look like"):
        shared_task(name="tests.celery_compat.bad_rate", rate_limit="often")(noop.run)


def test_time_limit_is_the_qstash_timeout(qstash):
    @shared_task(name="tests.celery_compat.timed", time_limit=45)
    def timed() -> None: ...

    timed.delay()
    timed.apply_async(time_limit=5)
    assert [r.headers["Upstash-Timeout"] for r in qstash.requests] == ["45s", "5s"]


def test_task_id_is_the_deduplication_id_and_request_id(qstash, no_result_store):
    noop.apply_async(task_id="order-42")
    request = qstash.requests[0]
    assert request.headers["Upstash-Deduplication-Id"] == "order-42"
    assert request.json()["options"] == {"task_id": "order-42"}


def test_shadow_names_the_task_in_logs(qstash, no_result_store, caplog):
    @shared_task(name="tests.celery_compat.shadowed")
    def shadowed() -> None:
        raise KeyError("x")

    shadowed.apply_async(shadow="shadowed[tenant=acme]")
    message = qstash.requests[0].json()
    assert message["options"]["shadow"] == "shadowed[tenant=acme]"
    with caplog.at_level(logging.WARNING, "django_qstash"):
        deliver(message)
    assert "Task shadowed[tenant=acme][msg_test] failed (attempt 1 of 4)" in caplog.text


def test_throws_are_logged_without_a_traceback(no_result_store, caplog):
    @shared_task(name="tests.celery_compat.expected", throws=(KeyError,))
    def expected() -> None:
        raise KeyError("known")

    with caplog.at_level(logging.INFO, "django_qstash"):
        deliver({"v": 1, "task": "tests.celery_compat.expected", "args": []})
    (record,) = [r for r in caplog.records if "raised" in r.getMessage()]
    assert (record.levelno, record.exc_info) == (logging.INFO, None)


# ---------------------------------------------------------------------------------- results


def test_ignore_result_stores_no_value(qstash, fake_store):
    @shared_task(name="tests.celery_compat.quiet", ignore_result=True)
    def quiet() -> int:
        return 1

    quiet.delay()
    assert not [call for call in fake_store.calls if call[0] == "published"]
    deliver({"v": 1, "task": "tests.celery_compat.quiet", "args": []})
    assert ("success", None) in fake_store.calls


def test_ignore_result_per_call(qstash, fake_store):
    noop.apply_async((1,), ignore_result=True)
    message = qstash.requests[0].json()
    assert message["options"] == {"ignore_result": True}
    deliver(message)
    assert ("success", None) in fake_store.calls


# ---------------------------------------------------------------------------------- expires


def test_expires_in_seconds_or_as_a_datetime_travels_in_the_message(qstash):
    before = timezone.now()
    noop.apply_async(expires=60)
    moment = timezone.now() + datetime.timedelta(hours=1)
    noop.apply_async(expires=moment)
    first, second = (
        datetime.datetime.fromisoformat(r.json()["options"]["expires"]) for r in qstash.requests
    )
    assert (
        before + datetime.timedelta(seconds=59)
        <= first
        <= timezone.now() + datetime.timedelta(seconds=60)
    )
    assert second == moment


def test_an_expired_message_is_acknowledged_recorded_and_not_run(fake_store):
    past = (timezone.now() - datetime.timedelta(seconds=1)).isoformat()
    response = deliver({"v": 1, "task": noop.name, "args": [1], "options": {"expires": past}})
    assert response.status_code == 200
    assert response.json() == {"status": "expired", "task_id": "msg_test", "stored": True}
    assert ran == []
    assert [call[0] for call in fake_store.calls] == ["expired"]


def test_a_store_without_record_expired_is_fine(no_result_store):
    from django_qstash import hooks
    from tests.celery_compat.conftest import FakeStore

    store = FakeStore(with_expired=False)
    hooks.register_result_store(store)
    try:
        past = "2000-01-01T00:00:00+00:00"
        response = deliver({"v": 1, "task": noop.name, "args": [], "options": {"expires": past}})
    finally:
        hooks.unregister_result_store()
    assert response.json()["status"] == "expired"
    assert store.calls == []


def test_a_message_not_yet_expired_runs(no_result_store):
    future = (timezone.now() + datetime.timedelta(minutes=1)).isoformat()
    response = deliver({"v": 1, "task": noop.name, "args": [2], "options": {"expires": future}})
    assert response.json()["status"] == "success"
    assert ran == [2]


def test_decorator_expires_is_relative_to_each_call(qstash):
    @shared_task(name="tests.celery_compat.short_lived", expires=30)
    def short_lived() -> None: ...

    short_lived.delay()
    expires = datetime.datetime.fromisoformat(qstash.requests[0].json()["options"]["expires"])
    assert 25 <= (expires - timezone.now()).total_seconds() <= 30


# ---------------------------------------------------------------------------------- base class


class Audited(Task[Any, Any]):
    """A Celery-style base class: class attributes as defaults, and handlers."""

    autoretry_for = (KeyError,)
    max_retries = 2
    events: list[tuple[str, Any]] = []

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        self.events.append(("success", retval))

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        self.events.append(("failure", type(exc).__name__))

    def after_return(self, status: str, *rest: Any) -> None:
        self.events.append(("after", status))


def test_base_class_attributes_and_handlers(qstash, no_result_store):
    @shared_task(base=Audited, name="tests.celery_compat.audited")
    def audited(fail: bool) -> str:
        if fail:
            raise ValueError("no")
        return "yes"

    audited.delay(False)
    assert qstash.requests[0].headers["Upstash-Retries"] == "2"
    deliver({"v": 1, "task": "tests.celery_compat.audited", "args": [False]})
    deliver({"v": 1, "task": "tests.celery_compat.audited", "args": [True]})
    assert Audited.events == [
        ("success", "yes"),
        ("after", "SUCCESS"),
        ("failure", "ValueError"),
        ("after", "FAILURE"),
    ]


def test_headers_on_the_decorator_reach_the_request(qstash, no_result_store):
    @shared_task(bind=True, name="tests.celery_compat.tagged", headers={"team": "ops"})
    def tagged(self: Any) -> dict[str, Any]:
        return self.request.headers

    tagged.apply_async(headers={"run": "1"})
    message = qstash.requests[0].json()
    assert message["options"]["headers"] == {"run": "1"}
    assert deliver(message).json()["result"] == {"team": "ops", "run": "1"}
    assert {k.lower() for k in qstash.requests[0].headers} >= {
        "upstash-forward-team",
        "upstash-forward-run",
    }
    assert json.loads(qstash.requests[0].body)["task"] == "tests.celery_compat.tagged"
    assert WEBHOOK in qstash.requests[0].path
