"""``hooks.register_publish_interceptor``: what core does with an interceptor's answer (the
outbox's own behaviour is tested end to end in tests/outbox)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from django_qstash import group, hooks
from example.tasks import record
from tests.support.recorder import Recorder


class Taker:
    def __init__(self, take: bool) -> None:
        self.take = take
        self.seen: list[list[hooks.PreparedMessage]] = []

    def __call__(self, messages: Sequence[hooks.PreparedMessage]) -> list[str] | None:
        self.seen.append(list(messages))
        return [f"held-{i}" for i in range(len(messages))] if self.take else None


@pytest.fixture
def interceptor(request: pytest.FixtureRequest) -> Iterator[Taker]:
    taker = Taker(take=request.param)
    hooks.register_publish_interceptor(taker)
    try:
        yield taker
    finally:
        hooks.unregister_publish_interceptor(taker)


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
