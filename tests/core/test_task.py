from __future__ import annotations

import datetime
import inspect
import json
import math
import zoneinfo

import pytest
from django.test import override_settings
from django.utils import timezone

from django_qstash import EagerResult, shared_task, stashed_task
from django_qstash.exceptions import IgnoredOptionWarning
from django_qstash.registry import registry
from django_qstash.task import Task


@shared_task
def add(a: int, b: int) -> int:
    return a + b


@stashed_task(name="tests.custom_name", max_retries=5, timeout=20, queue="q1")
def configured(x: int, *, flag: bool = False) -> int:
    return x


@shared_task(bind=True)
def bound(self, x: int) -> dict:
    return {"x": x, "task": self.request.task, "called_directly": self.request.called_directly}


@shared_task
async def async_add(a: int, b: int) -> int:
    return a + b


@shared_task
def boom() -> None:
    raise ValueError("boom")


def test_bare_and_configured_decorators_make_registered_tasks():
    assert isinstance(add, Task)
    assert add.name == f"{__name__}.add"
    assert registry.get(add.name) is add
    assert configured.name == "tests.custom_name"
    assert configured.options == {"max_retries": 5, "timeout": 20, "queue": "q1"}
    assert registry.get("tests.custom_name") is configured
    assert shared_task is stashed_task


def test_unknown_decorator_option_warns_naming_it_and_becomes_an_attribute():
    # As Celery: an option it does not know is kept as a task attribute, not a crash at import.
    with pytest.warns(IgnoredOptionWarning, match="retires=3 has no effect"):

        @shared_task(name="tests.core.typo", retires=3)
        def typo() -> None: ...

    assert typo.retires == 3


@pytest.mark.parametrize("option", ["delay", "request", "run", "options"])
def test_an_option_that_would_hide_a_task_member_is_a_type_error(option):
    with pytest.raises(TypeError, match=f"task option {option} would hide"):
        shared_task(name=f"tests.core.hides_{option}", **{option: 1})(lambda: None)


def test_direct_calls_run_inline_without_any_qstash_settings():
    with override_settings(QSTASH_TOKEN=None, DJANGO_QSTASH_DOMAIN=None):
        assert add(2, 3) == 5
        assert configured(7, flag=True) == 7
        assert async_add(2, 3) == 5
        assert bound(1) == {"x": 1, "task": bound.name, "called_directly": True}
    assert add.__name__ == "add"
    assert add.__doc__ is None


def test_arguments_that_do_not_bind_raise_before_publishing(qstash):
    with pytest.raises(TypeError, match="missing a required argument: 'b'"):
        add.delay(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
        add.delay(1, 2, c=3)
    assert qstash.requests == []


def _plain(a, b, c=3):  # noqa: ANN001, ANN202
    return a


def _keyword_only(a, *, b):  # noqa: ANN001, ANN202
    return a


def _variadic(a, *rest, **extra):  # noqa: ANN001, ANN202, ANN003
    return a


@pytest.mark.parametrize("func", [_plain, _keyword_only, _variadic])
@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((1,), {}),
        ((1, 2), {}),
        ((1, 2, 3), {}),
        ((1, 2, 3, 4), {}),
        ((1,), {"b": 2}),
        ((1, 2), {"a": 1}),
        ((), {"a": 1, "b": 2}),
        ((1,), {"z": 0}),
    ],
)
def test_the_arguments_check_agrees_with_a_call(func, args, kwargs):
    # Publishing checks plain positional arguments without inspect; the answer must be a call's.
    task = Task(func, name=f"tests.arity.{func.__name__}")
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        fits = False
    else:
        fits = True
    if fits:
        task._call_arguments(args, kwargs, {})
        task.bind_arguments(list(args), kwargs)
    else:
        with pytest.raises(TypeError):
            task._call_arguments(args, kwargs, {})
        with pytest.raises(TypeError):
            task.bind_arguments(list(args), kwargs)


def test_apply_async_passes_non_option_keywords_to_the_task(qstash):
    configured.apply_async(args=(1,), flag=True)
    assert json.loads(qstash.requests[0].body)["kwargs"] == {"flag": True}


def test_apply_async_refuses_a_misspelt_option(qstash):
    with pytest.raises(TypeError, match="unexpected keyword argument 'countdwn'"):
        add.apply_async(args=(1, 2), countdwn=5)
    assert qstash.requests == []


def test_countdown_and_eta_become_a_delay(qstash):
    add.apply_async((1, 2), countdown=2.2)
    assert qstash.requests[-1].headers["Upstash-Delay"] == "3s"
    add.apply_async((1, 2), countdown=0)
    assert "Upstash-Delay" not in qstash.requests[-1].headers
    eta = timezone.now() + datetime.timedelta(seconds=90)
    add.apply_async((1, 2), eta=eta)
    seconds = int(qstash.requests[-1].headers["Upstash-Delay"].rstrip("s"))
    assert 88 <= seconds <= 91


@override_settings(TIME_ZONE="America/New_York")
def test_a_naive_eta_is_read_in_the_project_time_zone(qstash):
    local = timezone.now().astimezone(zoneinfo.ZoneInfo("America/New_York")).replace(tzinfo=None)
    add.apply_async((1, 2), eta=local + datetime.timedelta(minutes=10))
    seconds = int(qstash.requests[-1].headers["Upstash-Delay"].rstrip("s"))
    assert math.isclose(seconds, 600, abs_tol=3)


def test_countdown_and_eta_together_is_an_error(qstash):
    with pytest.raises(TypeError, match="countdown or eta, not both"):
        add.apply_async((1, 2), countdown=1, eta=timezone.now())
    with pytest.raises(ValueError, match="must not be negative"):
        add.apply_async((1, 2), countdown=-1)
    assert qstash.requests == []


def test_apply_runs_eagerly_and_holds_the_value_or_exception():
    result = add.apply((2, 3))
    assert isinstance(result, EagerResult)
    assert (result.status, result.get(), result.ready(), result.successful()) == (
        "SUCCESS",
        5,
        True,
        True,
    )
    failed = boom.apply()
    assert failed.status == "FAILURE"
    assert failed.failed()
    assert isinstance(failed.result, ValueError)
    assert "ValueError: boom" in failed.traceback
    with pytest.raises(ValueError, match="boom"):
        failed.get()
    assert failed.get(propagate=False).args == ("boom",)


def test_eager_bound_task_sees_a_request():
    result = bound.apply((4,), task_id="fixed-id")
    assert result.get() == {"x": 4, "task": bound.name, "called_directly": False}
    assert result.id == "fixed-id"


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_always_eager_runs_delay_inline(qstash):
    result = add.delay(20, 22)
    assert isinstance(result, EagerResult)
    assert result.get() == 42
    assert async_add.delay(1, 1).get() == 2
    assert qstash.requests == []


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True, DJANGO_QSTASH_EAGER_PROPAGATES=True)
def test_eager_propagates_raises():
    with pytest.raises(ValueError, match="boom"):
        boom.delay()


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_mode_still_refuses_non_json_arguments():
    with pytest.raises(TypeError, match=r"args\[0\] is a datetime"):
        add.delay(datetime.datetime.now(), 1)


def test_delay_returns_a_result_with_the_message_id_and_task_name(qstash):
    qstash.answer = (200, {"messageId": "msg_123"}, {})
    result = add.delay(1, 2)
    assert result.id == "msg_123"
    assert result.task_name == add.name
    assert result == "msg_123"
    assert repr(result) == "<AsyncResult: msg_123>"
