"""``bind=True``: ``self.request`` and ``self.retry()``, through the webhook and eagerly."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from django_qstash import shared_task
from django_qstash.exceptions import MaxRetriesExceededError, Retry
from django_qstash.execution import TaskRequest
from tests.celery_compat.conftest import WEBHOOK, deliver

requests: list[TaskRequest] = []


@shared_task(bind=True)
def inspect_request(self) -> str:
    requests.append(self.request)
    return "ok"


@shared_task(bind=True, max_retries=2)
def flaky(self, x: int, fail: bool = True) -> int:
    requests.append(self.request)
    if fail:
        raise self.retry(exc=KeyError("busy"), countdown=30)
    return x


@shared_task(bind=True, max_retries=1, default_retry_delay=7)
def no_exc(self) -> None:
    raise self.retry()


@shared_task(bind=True, max_retries=None)
def forever(self) -> None:
    raise self.retry(countdown=1)


@pytest.fixture(autouse=True)
def clear() -> None:
    requests.clear()


def envelope(task: Any, *args: Any, **options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"v": 1, "task": task.name, "args": list(args), "kwargs": {}}
    if options:
        body["options"] = options
    return body


def test_request_has_what_celery_code_reads(no_result_store):
    options = {
        "task_id": "task-1",
        "retries": 2,
        "eta": "2030-01-01T00:00:00+00:00",
        "expires": "2999-01-01T00:00:00+00:00",
        "headers": {"tenant": "acme"},
        "root_id": "root",
        "parent_id": "parent",
        "group_id": "g1",
        "shadow": "inspect[acme]",
    }
    response = deliver(
        envelope(inspect_request, **options),
        message_id="msg_9",
        retried=1,
        **{"Upstash-Schedule-Id": "scd_1"},
    )
    assert response.status_code == 200
    (request,) = requests
    assert (request.id, request.message_id, request.task) == (
        "task-1",
        "msg_9",
        inspect_request.name,
    )
    assert request.retries == 3  # two retry() calls before this message + one QStash retry
    assert (request.args, request.kwargs) == ([], {})
    assert (request.eta, request.expires) == (options["eta"], options["expires"])
    assert (request.schedule_id, request.called_directly, request.is_eager) == (
        "scd_1",
        False,
        False,
    )
    assert request.headers == {"tenant": "acme"}
    assert request.tenant == "acme"  # custom headers read as attributes, as in Celery
    assert request.get("tenant") == "acme"
    assert (request.root_id, request.parent_id, request.group) == ("root", "parent", "g1")
    assert request.shadow == "inspect[acme]"
    assert request.delivery_info == {"retried": 1, "queue": None}
    with pytest.raises(AttributeError):
        request.no_such_header  # noqa: B018


def test_a_plain_delivery_uses_the_message_id_as_task_id(no_result_store):
    deliver(envelope(inspect_request), message_id="msg_1", retried=2)
    (request,) = requests
    assert (request.id, request.retries, request.headers) == ("msg_1", 2, {})


def test_called_directly_outside_a_delivery():
    assert inspect_request() == "ok"
    assert requests[0].called_directly
    with pytest.raises(KeyError, match="busy"):
        flaky(1)  # retry() outside a delivery re-raises exc, as Celery does


def test_retry_republishes_and_answers_200_so_qstash_does_not_retry(qstash, no_result_store):
    qstash.answer = (200, {"messageId": "msg_next"}, {})
    response = deliver(envelope(flaky, 5, max_retries=2), message_id="msg_first")
    assert response.status_code == 200
    assert response.json() == {
        "status": "retry",
        "task_id": "msg_first",
        "retry_id": "msg_next",
        "stored": True,
    }
    (published,) = qstash.requests
    assert published.path == f"/v2/publish/{WEBHOOK}"
    assert published.headers["Upstash-Delay"] == "30s"
    # The task's 2 retries are shared with QStash's: 1 left for the next message.
    assert published.headers["Upstash-Retries"] == "1"
    body = published.json()
    assert (body["task"], body["args"], body["kwargs"]) == (flaky.name, [5], {})
    options = body["options"]
    assert (options["task_id"], options["retries"], options["max_retries"]) == ("msg_first", 1, 1)
    assert "eta" in options
    assert "Upstash-Deduplication-Id" not in published.headers


def test_retry_keeps_what_the_message_was_published_with(qstash, no_result_store):
    link = {"task": inspect_request.name, "args": [], "kwargs": {}, "options": {}}
    deliver(
        envelope(
            flaky,
            5,
            task_id="t-1",
            retries=1,
            headers={"tenant": "acme"},
            link=[link],
            publish={"queue": "slow", "timeout": "20s"},
        )
    )
    (published,) = qstash.requests
    assert published.path == f"/v2/enqueue/slow/{WEBHOOK}"
    assert published.headers["Upstash-Timeout"] == "20s"
    assert published.headers["Upstash-Callback"] == f"{WEBHOOK}?django_qstash=link"
    options = published.json()["options"]
    assert options["task_id"] == "t-1"
    assert options["retries"] == 2
    assert options["headers"] == {"tenant": "acme"}
    assert options["link"][0]["task"] == inspect_request.name
    assert options["publish"] == {"queue": "slow", "timeout": "20s"}


def test_past_max_retries_the_exception_is_final(qstash, no_result_store):
    # QStash still has retries for this message (3), but the task has none left.
    response = deliver(envelope(flaky, 5, task_id="t-1", retries=2, max_retries=3))
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["error"] == "KeyError: 'busy'"
    assert response.json()["final"] is True
    assert qstash.requests == []


def test_past_max_retries_without_exc_raises_max_retries_exceeded(qstash, no_result_store):
    response = deliver(envelope(no_exc, retries=1))
    assert response.status_code == 489
    assert response.json()["error"].startswith("MaxRetriesExceededError: Can't retry")
    assert qstash.requests == []


def test_the_countdown_defaults_to_default_retry_delay(qstash, no_result_store):
    deliver(envelope(no_exc))
    assert qstash.requests[0].headers["Upstash-Delay"] == "7s"


def test_max_retries_none_retries_without_limit(qstash, no_result_store):
    response = deliver(envelope(forever, retries=500))
    assert response.json()["status"] == "retry"
    assert qstash.requests[0].json()["options"]["retries"] == 501


def test_retry_with_eta_and_throw_false(qstash, no_result_store):
    @shared_task(bind=True, name="tests.celery_compat.retry_eta")
    def retry_eta(self) -> str:
        eta = timezone.now() + datetime.timedelta(minutes=5)
        signal = self.retry(eta=eta, throw=False)
        assert isinstance(signal, Retry)
        return "returned"

    response = deliver({"v": 1, "task": "tests.celery_compat.retry_eta", "args": []})
    assert response.json()["result"] == "returned"
    seconds = int(qstash.requests[0].headers["Upstash-Delay"].rstrip("s"))
    assert 295 <= seconds <= 300


def test_eager_retries_run_at_once_with_a_stable_id():
    result = flaky.apply((3,), task_id="eager-1")
    assert result.status == "FAILURE"
    assert isinstance(result.result, KeyError)
    assert [(r.id, r.retries, r.is_eager) for r in requests] == [
        ("eager-1", 0, True),
        ("eager-1", 1, True),
        ("eager-1", 2, True),
    ]


def test_eager_max_retries_exceeded():
    result = no_exc.apply()
    assert isinstance(result.result, MaxRetriesExceededError)
    assert result.result.task_args == []
