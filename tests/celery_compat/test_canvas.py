"""Signatures, link/link_error through QStash callbacks, chain, group, and chord's wiring."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import override_settings

from django_qstash import shared_task
from django_qstash.canvas import Signature, chain, chord, group, maybe_signature, signature
from django_qstash.exceptions import CanvasNotSupported
from django_qstash.result import GroupResult
from tests.celery_compat.conftest import WEBHOOK, callback_body, deliver

LINK = "django_qstash=link"
LINK_ERROR = "django_qstash=link_error"


@shared_task
def add(x: int, y: int) -> int:
    return x + y


@shared_task
def mul(x: int, y: int) -> int:
    return x * y


@shared_task
def fail(x: int) -> None:
    raise ValueError(x)


@shared_task
def errback(task_id: str) -> str:
    return task_id


# ---------------------------------------------------------------------------------- signatures


def test_signatures_are_json_dicts_like_celerys():
    sig = add.s(2)
    assert sig == {
        "task": add.name,
        "args": [2],
        "kwargs": {},
        "options": {},
        "subtask_type": None,
        "immutable": False,
    }
    assert maybe_signature(json.loads(json.dumps(sig))) == sig
    assert repr(add.si(1, y=2)) == f"{add.name}.si(1, y=2)"
    assert sig.type is add
    assert signature(add.name, args=(1,), countdown=3)["options"] == {"countdown": 3}
    assert add.signature((1,), {"y": 2}, queue="q").options == {"queue": "q"}


def test_partial_arguments_come_first_unless_immutable():
    assert add.s(2).clone((1,)).args == [1, 2]
    assert add.si(2, 3).clone((1,)).args == [2, 3]
    assert add.s(2)(5) == 7
    assert add.s(y=1).apply((4,)).get() == 5


def test_pipe_makes_a_chain():
    pipeline = add.s(1, 1) | mul.s(3) | mul.s(2)
    assert isinstance(pipeline, chain)
    assert [task.task for task in pipeline.tasks] == [add.name, mul.name, mul.name]
    assert pipeline.apply().get() == 12


# ---------------------------------------------------------------------------------- link


def test_link_and_link_error_ride_on_qstash_callbacks(qstash):
    add.apply_async((1, 2), link=mul.s(10), link_error=errback.s())
    request = qstash.requests[0]
    headers = request.headers
    assert headers["Upstash-Callback"] == f"{WEBHOOK}?{LINK}"
    assert headers["Upstash-Failure-Callback"] == f"{WEBHOOK}?{LINK_ERROR}"
    assert headers["Upstash-Callback-Retries"] == "3"
    assert headers["Upstash-Failure-Callback-Retries"] == "3"
    options = request.json()["options"]
    assert [s["task"] for s in options["link"]] == [mul.name]
    assert [s["task"] for s in options["link_error"]] == [errback.name]


def test_link_and_a_callback_url_together_are_refused(qstash):
    with pytest.raises(TypeError, match="link= or callback="):
        add.apply_async((1, 2), link=mul.s(2), callback="https://example.com/cb")
    assert qstash.requests == []


def source_message(qstash: Any, **options: Any) -> bytes:
    add.apply_async((1, 2), **options)
    body = qstash.requests.pop().body
    return body


def test_the_success_callback_publishes_the_next_step_with_the_result(qstash, no_result_store):
    source = source_message(qstash, link=[mul.s(10), add.si(7, 7)])
    answer = {"status": "success", "task_id": "msg_src", "result": 3, "stored": True}
    response = deliver(callback_body(source, answer), query=LINK, message_id="msg_cb")
    assert response.status_code == 200
    assert response.json() == {"status": "linked", "published": ["msg_recorded"] * 2}
    first, second = (request.json() for request in qstash.requests)
    assert (first["task"], first["args"]) == (mul.name, [3, 10])
    assert (second["task"], second["args"]) == (add.name, [7, 7])  # .si(): no result
    assert first["options"]["parent_id"] == first["options"]["root_id"] == "msg_src"
    deduplication = [request.headers["Upstash-Deduplication-Id"] for request in qstash.requests]
    assert deduplication == ["msg_src.link.0", "msg_src.link.1"]


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (500, {"status": "failure", "error": "ValueError: 1"}),
        (200, {"status": "retry", "task_id": "msg_src"}),
        (200, {"status": "duplicate", "task_id": "msg_src"}),
        (200, {"status": "expired", "task_id": "msg_src"}),
    ],
)
def test_callbacks_for_attempts_that_did_not_succeed_here_publish_nothing(
    qstash, no_result_store, status, answer
):
    source = source_message(qstash, link=mul.s(10))
    response = deliver(callback_body(source, answer, status=status), query=LINK)
    assert response.status_code == 200
    assert response.json()["status"] == "callback_ignored"
    assert qstash.requests == []


def test_a_duplicate_answer_with_the_stored_result_continues_the_canvas(qstash, no_result_store):
    # QStash missed the first answer and redelivered; the webhook answered "duplicate" with the
    # stored result, and the callback of that answer publishes the next step.
    source = source_message(qstash, link=mul.s(10))
    answer = {"status": "duplicate", "task_id": "msg_src", "result": 4}
    deliver(callback_body(source, answer), query=LINK)
    (published,) = qstash.requests
    assert published.json()["args"] == [4, 10]
    assert published.headers["Upstash-Deduplication-Id"] == "msg_src.link.0"


def test_a_redelivered_success_answers_with_its_stored_result(qstash, fake_store):
    from django_qstash import hooks

    fake_store.claim = lambda delivery: hooks.ClaimDecision.ALREADY_SUCCEEDED
    fake_store.get = lambda task_id: hooks.StoredResult(task_id, add.name, "SUCCESS", result=3)
    linked = json.loads(source_message(qstash, link=mul.s(10)))
    plain = json.loads(source_message(qstash))
    assert deliver(linked).json() == {"status": "duplicate", "task_id": "msg_test", "result": 3}
    assert deliver(plain).json() == {"status": "duplicate", "task_id": "msg_test"}


def test_the_failure_callback_runs_errbacks_with_the_task_id(qstash, no_result_store):
    source = source_message(qstash, link_error=errback.s())
    answer = {"status": "failure", "error": "ValueError: 1", "final": True}
    response = deliver(callback_body(source, answer, status=489), query=LINK_ERROR)
    assert response.json()["status"] == "linked"
    (published,) = qstash.requests
    assert (published.json()["task"], published.json()["args"]) == (errback.name, ["msg_src"])
    assert published.headers["Upstash-Deduplication-Id"] == "msg_src.link_error.0"


def test_callbacks_are_verified_against_the_callback_url(qstash, no_result_store):
    from django.test import Client

    from tests.support.signing import make_token

    source = source_message(qstash, link=mul.s(10))
    raw = json.dumps(callback_body(source, {"status": "success", "result": 1})).encode()
    for signed_for in (WEBHOOK, f"{WEBHOOK}?{LINK_ERROR}", f"http://evil.example/?{LINK}"):
        response = Client().post(
            f"/qstash/webhook/?{LINK}",
            raw,
            content_type="application/json",
            headers={"Upstash-Signature": make_token(raw, signed_for)},
        )
        assert response.status_code == 401
    assert qstash.requests == []


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"not json", 489, "malformed_callback"),
        (
            {"status": 200, "sourceBody": base64.b64encode(b"{}").decode()},
            489,
            "malformed_callback",
        ),
    ],
)
def test_unreadable_callbacks_are_refused(no_result_store, body, status, reason):
    response = deliver(body, query=LINK)
    assert (response.status_code, response.json()["status"]) == (status, reason)


def test_a_linked_task_this_site_does_not_know_is_refused(qstash, no_result_store):
    source = source_message(qstash, link=Signature("nowhere.task"))
    response = deliver(callback_body(source, {"status": "success", "result": 1}), query=LINK)
    assert response.status_code == 489
    assert response.json()["status"] == "unknown_task"


def test_a_failed_publish_lets_qstash_retry_the_callback(qstash, no_result_store):
    source = source_message(qstash, link=mul.s(10))
    qstash.answer = (500, {"error": "down"}, {})
    response = deliver(callback_body(source, {"status": "success", "result": 1}), query=LINK)
    assert response.status_code == 500
    assert response.json()["status"] == "publish_failed"


# ---------------------------------------------------------------------------------- chain


def test_a_chain_continues_step_by_step_through_callbacks(qstash, no_result_store):
    chain(add.s(1, 2), mul.s(10), add.s(5)).apply_async(link_error=errback.s())
    first = qstash.requests.pop()
    assert first.json()["args"] == [1, 2]
    (rest,) = first.json()["options"]["link"]
    assert rest["subtask_type"] == "chain"
    assert [s["task"] for s in first.json()["options"]["link_error"]] == [errback.name]

    deliver(callback_body(first.body, {"status": "success", "result": 3}), query=LINK)
    second = qstash.requests.pop()
    assert (second.json()["task"], second.json()["args"]) == (mul.name, [3, 10])
    (last,) = second.json()["options"]["link"]
    assert (last["task"], last["subtask_type"]) == (add.name, None)
    assert [s["task"] for s in second.json()["options"]["link_error"]] == [errback.name]

    deliver(callback_body(second.body, {"status": "success", "result": 30}), query=LINK)
    third = qstash.requests.pop()
    assert (third.json()["task"], third.json()["args"]) == (add.name, [30, 5])
    assert "link" not in third.json()["options"]
    # The root is the first step's task id, assigned when the chain was published.
    assert third.json()["options"]["root_id"] == first.json()["options"]["task_id"]
    assert third.json()["options"]["parent_id"] == second.json()["options"]["task_id"]


def test_a_chain_ending_in_a_group_fans_out_in_one_batch(qstash, no_result_store):
    chain(add.s(1, 1), group(mul.s(2), mul.s(3))).delay()
    first = qstash.requests.pop()
    qstash.answer = (200, [{"messageId": "msg_a"}, {"messageId": "msg_b"}], {})
    response = deliver(callback_body(first.body, {"status": "success", "result": 2}), query=LINK)
    assert response.json() == {"status": "linked", "published": ["msg_a", "msg_b"]}
    (batch,) = qstash.requests
    assert batch.path == "/v2/batch"
    assert [json.loads(item["body"])["args"] for item in batch.json()] == [[2, 2], [2, 3]]
    ids = [item["headers"]["Upstash-Deduplication-Id"] for item in batch.json()]
    assert ids == ["msg_src.link.0.0", "msg_src.link.0.1"]


def test_a_group_followed_by_a_task_is_a_chord_as_in_celery():
    workflow = group(add.s(1, 1), add.s(2, 2)) | mul.s(2)
    assert isinstance(workflow, chord)
    assert [s.args for s in workflow.header.tasks] == [[1, 1], [2, 2]]
    assert workflow.body.task == mul.name
    steps = chain(add.s(0, 1), group(add.s(1), add.s(2)), mul.s(2)).tasks
    assert [type(step) for step in steps] == [Signature, chord]
    # The dict form round-trips (a chord travels in a link of the step before it).
    again = maybe_signature(json.loads(json.dumps(steps[1])))
    assert isinstance(again, chord)
    assert again == steps[1]


def test_chord_without_the_results_app_says_to_install_it(qstash, no_result_store):
    with pytest.raises(CanvasNotSupported, match=r"INSTALLED_APPS.*django-qstash-results"):
        chord([add.s(1, 1)])(mul.s(2))
    assert qstash.requests == []  # nothing published


# ---------------------------------------------------------------------------------- group


def test_a_group_is_one_batch_request(qstash):
    qstash.answer = (200, [{"messageId": f"msg_{n}"} for n in range(3)], {})
    result = group(add.s(n, n) for n in range(3)).apply_async(countdown=5, queue="work")
    (request,) = qstash.requests
    assert request.path == "/v2/batch"
    items = request.json()
    assert [item["queue"] for item in items] == ["work"] * 3
    assert [item["headers"]["Upstash-Delay"] for item in items] == ["5s"] * 3
    assert isinstance(result, GroupResult)
    assert [r.id for r in result] == ["msg_0", "msg_1", "msg_2"]
    assert all(r.task_name == add.name for r in result)


def test_group_arguments_and_errors(qstash):
    with pytest.raises(TypeError, match="missing a required argument"):
        group(add.s(1), add.s(1, 2)).delay()
    assert qstash.requests == []
    assert group().delay().results == []


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_canvas(qstash):
    assert group(add.s(n, n) for n in range(3)).delay().get() == [0, 2, 4]
    result = chain(add.s(1, 2), mul.s(10), group(add.s(1), add.s(2))).delay()
    assert result.get() == [31, 32]
    failed = chain(add.s(1, 2), fail.s(), mul.s(10)).delay()
    assert failed.failed()
    assert failed.parent.get() == 3
    assert qstash.requests == []


def test_eager_link_and_link_error():
    seen: list[Any] = []

    @shared_task(name="tests.celery_compat.collect")
    def collect(value: Any) -> None:
        seen.append(value)

    add.apply((2, 3), link=collect.s())
    fail.apply((1,), task_id="t-1", link_error=collect.s())
    assert seen == [5, "t-1"]


def test_revoke_cancels_the_qstash_message(qstash):
    qstash.answer = (200, [{"messageId": "msg_0"}, {"messageId": "msg_1"}], {})
    result = group(add.s(1, 1), add.s(2, 2)).delay()
    qstash.answer = (200, {}, {})
    result.revoke()
    assert [(r.method, r.path) for r in qstash.requests[1:]] == [
        ("DELETE", "/v2/messages/msg_0"),
        ("DELETE", "/v2/messages/msg_1"),
    ]
    with pytest.raises(NotImplementedError, match="terminate"):
        result.results[0].revoke(terminate=True)
