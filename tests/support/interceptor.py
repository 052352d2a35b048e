"""A publish interceptor for tests: records what it is offered, takes it or declines."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from django_qstash import hooks


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
