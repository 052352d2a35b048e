"""``hooks.register_publish_interceptor``: what core does with an interceptor's answer (the
outbox's own behaviour is tested end to end in tests/outbox)."""

from __future__ import annotations

import asyncio

import pytest

import django_qstash
from django_qstash import group, hooks
from example.tasks import record
from tests.support.interceptor import Taker
from tests.support.recorder import Recorder

URL = "https://example.com/hook"


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_a_taken_message_is_not_sent_and_its_result_has_the_given_id(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    result = record.delay("taken")
    assert result.id == "held-0"
    assert qstash.requests == []
    [[prepared]] = interceptor.seen
    assert prepared.task_name == "example.tasks.record"
    assert prepared.args == ["taken"]
    assert prepared.destination == hooks.webhook_url()


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_a_group_is_offered_as_one_list(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    results = group(record.s("a"), record.s("b")).apply_async()
    assert [r.id for r in results.results] == ["held-0", "held-1"]
    assert [m.args for m in interceptor.seen[0]] == [["a"], ["b"]]
    assert qstash.requests == []


@pytest.mark.parametrize("interceptor", [False], indirect=True)
def test_none_lets_the_message_go_now(interceptor: Taker, qstash: Recorder, no_result_store: None):
    result = record.delay("sent")
    assert result.id == "msg_recorded"
    assert len(interceptor.seen) == 1
    assert len(qstash.requests) == 1
    assert qstash.requests[0].json()["args"] == ["sent"]


def test_registering_twice_calls_it_once(qstash: Recorder, no_result_store: None):
    taker = Taker(take=False)
    hooks.register_publish_interceptor(taker)
    hooks.register_publish_interceptor(taker)
    try:
        record.delay("once")
    finally:
        hooks.unregister_publish_interceptor(taker)
    assert len(taker.seen) == 1
    record.delay("after")
    assert len(taker.seen) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_delay_on_commit_is_offered_at_the_call(
    interceptor: Taker, qstash: Recorder, no_result_store: None, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert record.delay_on_commit("held") is None
    assert [[m.args for m in call] for call in interceptor.seen] == [[["held"]]]
    assert callbacks == []
    assert qstash.requests == []


@pytest.mark.django_db
@pytest.mark.parametrize("interceptor", [False], indirect=True)
def test_delay_on_commit_declined_publishes_after_the_commit(
    interceptor: Taker, qstash: Recorder, no_result_store: None, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record.delay_on_commit("later")
        assert qstash.requests == []
    assert len(callbacks) == 1
    assert [r.json()["args"] for r in qstash.requests] == [["later"]]


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_publish_to_a_url_is_offered_and_returns_the_given_id(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    assert django_qstash.publish(URL, json={"n": 1}) == "held-0"
    [[prepared]] = interceptor.seen
    assert (prepared.destination, prepared.body, prepared.task_name) == (URL, b'{"n": 1}', "")
    assert qstash.requests == []


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_publish_batch_is_offered_as_one_list(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    ids = django_qstash.publish_batch([{"url": URL, "body": "a"}, {"url": URL, "body": "b"}])
    assert ids == ["held-0", "held-1"]
    assert [[m.body for m in call] for call in interceptor.seen] == [[b"a", b"b"]]
    assert qstash.requests == []


@pytest.mark.parametrize("interceptor", [False], indirect=True)
def test_publish_declined_is_sent_and_not_recorded_as_a_task(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    heard: list[object] = []

    def receiver(sender: object, **kwargs: object) -> None:
        heard.append(kwargs["message_id"])

    hooks.message_published.connect(receiver)
    try:
        assert django_qstash.publish(URL, body="x") == "msg_recorded"
        record.delay("task")
    finally:
        hooks.message_published.disconnect(receiver)
    assert [len(call) for call in interceptor.seen] == [1, 1]
    assert len(qstash.requests) == 2
    assert heard == ["msg_recorded"]  # the task's only: a URL message is no task


@pytest.mark.parametrize("interceptor", [True], indirect=True)
def test_async_publishing_is_offered_too(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    async def publish_all() -> list[object]:
        return [
            (await record.adelay("a")).id,
            [r.id for r in (await group(record.s("b"), record.s("c")).aapply_async()).results],
            await django_qstash.apublish(URL, body="d"),
            await django_qstash.apublish_batch([{"url": URL, "body": "e"}]),
        ]

    assert asyncio.run(publish_all()) == ["held-0", ["held-0", "held-1"], "held-0", ["held-0"]]
    assert [len(call) for call in interceptor.seen] == [1, 2, 1, 1]
    assert qstash.requests == []


@pytest.mark.parametrize("interceptor", [False], indirect=True)
def test_async_publishing_declined_is_sent(
    interceptor: Taker, qstash: Recorder, no_result_store: None
):
    result = asyncio.run(record.adelay("now"))
    assert result.id == "msg_recorded"
    assert len(interceptor.seen) == 1
    assert [r.json()["args"] for r in qstash.requests] == [["now"]]
