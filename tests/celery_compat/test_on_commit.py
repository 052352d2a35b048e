"""``delay_on_commit()`` / ``apply_async_on_commit()``: publish only after the commit."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_qstash import shared_task

pytestmark = pytest.mark.django_db(transaction=True)


@shared_task
def send(order: int, *, urgent: bool = False) -> int:
    return order


def test_publishes_after_the_commit_and_returns_none(qstash):
    with transaction.atomic():
        assert send.delay_on_commit(1) is None
        assert send.apply_async_on_commit((2,), {"urgent": True}, countdown=5) is None
        assert qstash.requests == []
    first, second = qstash.requests
    assert first.json()["args"] == [1]
    assert second.json()["kwargs"] == {"urgent": True}
    assert second.headers["Upstash-Delay"] == "5s"


def test_a_rollback_publishes_nothing(qstash):
    with transaction.atomic():
        send.delay_on_commit(1)
        transaction.set_rollback(True)
    assert qstash.requests == []


def test_outside_a_transaction_it_publishes_at_once(qstash):
    send.delay_on_commit(3)
    assert len(qstash.requests) == 1


def test_bad_arguments_raise_at_the_call_not_after_the_commit(qstash):
    with transaction.atomic():
        with pytest.raises(TypeError, match="missing a required argument"):
            send.delay_on_commit()
        with pytest.raises(TypeError, match="cannot be sent as JSON"):
            send.delay_on_commit(object())
    assert qstash.requests == []
