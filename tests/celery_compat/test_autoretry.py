"""``autoretry_for`` and its options, mapped onto QStash's own retries (Upstash-Retries and an
Upstash-Retry-Delay expression), and the webhook's answers for them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from django_qstash import hooks, shared_task
from django_qstash.devserver.durations import RetryDelayExpression
from tests.celery_compat.conftest import deliver


class Busy(Exception):
    pass


class Gone(Busy):
    pass


@shared_task(autoretry_for=(Busy,))
def defaults() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), retry_backoff=True, retry_jitter=False)
def backoff() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), retry_backoff=5, retry_backoff_max=120, retry_jitter=False)
def backoff_factor() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), retry_backoff=True)
def jittered() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), retry_kwargs={"max_retries": 7, "countdown": 10})
def fixed_countdown() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), default_retry_delay=30, max_retries=4)
def default_delay() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), max_retries=None)
def unlimited() -> None:
    raise Busy()


@shared_task(autoretry_for=(Busy,), dont_autoretry_for=(Gone,))
def selective(kind: str) -> None:
    raise {"busy": Busy, "gone": Gone, "other": ValueError}[kind]()


@shared_task(autoretry_for=(Busy,), retry_delay="1000 * retried")
def explicit_delay() -> None:
    raise Busy()


def published(qstash: Any, task: Any) -> dict[str, str]:
    task.delay()
    return qstash.requests[-1].headers


@pytest.mark.parametrize(
    ("task", "retries", "delay"),
    [
        (defaults, "3", "180000"),  # Celery's max_retries=3 and default_retry_delay=180 s
        (backoff, "3", "min(600000, 1000 * pow(2, retried))"),
        (backoff_factor, "3", "min(120000, 5000 * pow(2, retried))"),
        (fixed_countdown, "7", "10000"),
        (default_delay, "4", "30000"),
        (explicit_delay, "3", "1000 * retried"),
    ],
)
def test_retry_options_become_qstash_headers(qstash, task, retries, delay):
    headers = published(qstash, task)
    assert headers["Upstash-Retries"] == retries
    assert headers["Upstash-Retry-Delay"] == delay
    assert qstash.requests[-1].json()["options"]["max_retries"] == int(retries)


def test_max_retries_none_leaves_the_limit_to_qstash(qstash):
    headers = published(qstash, unlimited)
    assert "Upstash-Retries" not in headers  # QStash then retries its plan's maximum
    assert headers["Upstash-Retry-Delay"] == "180000"


def test_tasks_without_autoretry_keep_qstash_defaults(qstash):
    @shared_task(name="tests.celery_compat.plain")
    def plain() -> None: ...

    headers = published(qstash, plain)
    assert "Upstash-Retries" not in headers
    assert "Upstash-Retry-Delay" not in headers


@pytest.mark.parametrize(("factor", "maximum"), [(1, 600), (5, 120), (2, 10)])
def test_the_backoff_expression_gives_celerys_countdowns(factor, maximum):
    from celery.utils.time import get_exponential_backoff_interval

    @shared_task(
        name=f"tests.celery_compat.backoff_{factor}_{maximum}",
        autoretry_for=(Busy,),
        retry_backoff=factor,
        retry_backoff_max=maximum,
        retry_jitter=False,
    )
    def task() -> None: ...

    expression = RetryDelayExpression(task.retry_policy.delay_expression())
    for retried in range(12):
        celery = get_exponential_backoff_interval(factor, retried, maximum, full_jitter=False)
        assert expression.milliseconds(retried) == celery * 1000


def test_jitter_is_a_factor_drawn_per_message(qstash):
    expressions = {published(qstash, jittered)["Upstash-Retry-Delay"] for _ in range(5)}
    assert len(expressions) > 1
    for expression in expressions:
        match = re.fullmatch(
            r"floor\((\d\.\d{4}) \* min\(600000, 1000 \* pow\(2, retried\)\)\)", expression
        )
        assert match, expression
        assert 0 <= float(match.group(1)) < 1
        parsed = RetryDelayExpression(expression)
        for retried in range(6):
            assert 0 <= parsed.milliseconds(retried) <= min(600, 2**retried) * 1000


def test_a_republished_message_continues_the_backoff(qstash):
    backoff.apply_async(retries=3)
    assert qstash.requests[-1].headers["Upstash-Retry-Delay"] == (
        "min(600000, 1000 * pow(2, (retried + 3)))"
    )


# ---------------------------------------------------------------------------------- webhook


def body(task: Any, *args: Any, max_retries: int = 3) -> dict[str, Any]:
    return {
        "v": 1,
        "task": task.name,
        "args": list(args),
        "kwargs": {},
        "options": {"max_retries": max_retries},
    }


@pytest.fixture
def retried_signals() -> Any:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    hooks.task_retried.connect(receiver)
    yield seen
    hooks.task_retried.disconnect(receiver)


def test_a_listed_exception_is_a_retryable_500(no_result_store, retried_signals):
    response = deliver(body(selective, "busy"), retried=1)
    assert response.status_code == 500
    assert response.json()["final"] is False
    assert "Upstash-NonRetryable-Error" not in response.headers
    (signal,) = retried_signals
    assert isinstance(signal["exception"], Busy)


def test_on_the_last_attempt_it_is_final(no_result_store, retried_signals):
    response = deliver(body(selective, "busy"), retried=3)
    # Out of QStash retries: nothing can follow, so the answer says stop (a 489).
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["final"] is True
    assert retried_signals == []


@pytest.mark.parametrize("kind", ["other", "gone"])
def test_an_unlisted_or_excluded_exception_is_not_retried(no_result_store, kind):
    response = deliver(body(selective, kind))
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["final"] is True


def test_the_store_hears_final_only_when_it_is(fake_store):
    deliver(body(selective, "busy"))
    deliver(body(selective, "other"))
    assert [call for call in fake_store.calls if call[0] == "failure"] == [
        ("failure", False),
        ("failure", True),
    ]


def test_eager_autoretry_retries_up_to_the_limit():
    attempts: list[int] = []

    @shared_task(
        bind=True,
        name="tests.celery_compat.eager_autoretry",
        autoretry_for=(Busy,),
        retry_kwargs={"max_retries": 2},
    )
    def task(self: Any) -> None:
        attempts.append(self.request.retries)
        raise Busy()

    result = task.apply()
    assert result.status == "FAILURE"
    assert isinstance(result.result, Busy)
    assert attempts == [0, 1, 2]
