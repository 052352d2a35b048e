"""Where the official SDKs' own tests expect what QStash does, through the sync and async clients.

Each scenario runs twice: with ``qstash.QStash`` and with ``qstash.AsyncQStash``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from qstash import AsyncQStash, QStash, Receiver

from tests.devserver.conftest import NON_RETRYABLE, Received
from tests.devserver.conftest import Receiver as LoopbackReceiver
from tests.support.devserver import DevServerProcess

pytestmark = pytest.mark.slow

_unique = itertools.count()


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_unique)}"


def _async_client(server: DevServerProcess) -> AsyncQStash:
    return AsyncQStash(server.token, base_url=server.url, retry=False)


def _run_async(server: DevServerProcess, steps: Callable[[AsyncQStash], Awaitable[Any]]) -> Any:
    """Run ``steps`` with a fresh async client on its own event loop."""
    return asyncio.run(steps(_async_client(server)))


# ------------------------------------------------------------------------ deleting a URL group


def test_deleting_a_url_group_is_idempotent_sync(client: QStash, receiver: LoopbackReceiver):
    group = _name("never-created")
    client.url_group.delete(group)  # QStash answers 200 for a group it does not know
    client.url_group.upsert_endpoints(group, [{"url": receiver.url + "/ug"}])
    client.url_group.delete(group)
    client.url_group.delete(group)
    assert group not in [g.name for g in client.url_group.list()]


def test_deleting_a_url_group_is_idempotent_async(
    qstash_devserver: DevServerProcess, receiver: LoopbackReceiver
):
    group = _name("never-created")

    async def steps(client: AsyncQStash) -> list[str]:
        await client.url_group.delete(group)
        await client.url_group.upsert_endpoints(group, [{"url": receiver.url + "/ug"}])
        await client.url_group.delete(group)
        await client.url_group.delete(group)
        return [g.name for g in await client.url_group.list()]

    assert group not in _run_async(qstash_devserver, steps)


# ------------------------------------------------------------------------ the default period


def _flow_controls(key: str) -> list[dict[str, Any]]:
    """Flow controls without a period: rate only, parallelism only, both."""
    return [
        {"key": key, "rate": 5},
        {"key": key, "parallelism": 2},
        {"key": key, "parallelism": 2, "rate": 5},
    ]


def _periods(flows: list[Any]) -> list[tuple[int | None, int | None, int | None]]:
    return [(f.parallelism, f.rate, f.period) for f in flows]


EXPECTED_PERIODS = [(None, 5, 1), (2, None, 1), (2, 5, 1)]


def test_flow_control_without_a_period_reports_one_second_sync(
    client: QStash, receiver: LoopbackReceiver
):
    key = _name("no-period")
    url = receiver.url + "/no-period"
    published = [
        client.message.publish_json(url=url, body=1, delay=60, flow_control=flow).message_id
        for flow in _flow_controls(key)
    ]
    batched = [
        r.message_id
        for r in client.message.batch_json(
            [{"url": url, "body": 1, "delay": 60, "flow_control": f} for f in _flow_controls(key)]
        )
    ]
    schedules = [
        client.schedule.create(destination=url, cron="0 0 1 1 *", flow_control=flow)
        for flow in _flow_controls(key)
    ]
    try:
        for ids in (published, batched):
            flows = [client.message.get(i).flow_control for i in ids]
            assert _periods(flows) == EXPECTED_PERIODS
        assert _periods([client.schedule.get(s).flow_control for s in schedules]) == (
            EXPECTED_PERIODS
        )
    finally:
        client.message.cancel_many(published + batched)
        for schedule in schedules:
            client.schedule.delete(schedule)


def test_flow_control_without_a_period_reports_one_second_async(
    qstash_devserver: DevServerProcess, receiver: LoopbackReceiver
):
    key = _name("no-period")
    url = receiver.url + "/no-period"

    async def steps(client: AsyncQStash) -> tuple[list[Any], list[Any], list[Any]]:
        published = [
            (await client.message.publish_json(url=url, body=1, delay=60, flow_control=f))
            for f in _flow_controls(key)
        ]
        batched = await client.message.batch_json(
            [{"url": url, "body": 1, "delay": 60, "flow_control": f} for f in _flow_controls(key)]
        )
        schedules = [
            await client.schedule.create(destination=url, cron="0 0 1 1 *", flow_control=f)
            for f in _flow_controls(key)
        ]
        ids = [r.message_id for r in (*published, *batched)]
        try:
            messages = [(await client.message.get(i)).flow_control for i in ids]
            scheduled = [(await client.schedule.get(s)).flow_control for s in schedules]
        finally:
            await client.message.cancel_many(ids)
            for schedule in schedules:
                await client.schedule.delete(schedule)
        return messages[:3], messages[3:], scheduled

    for flows in _run_async(qstash_devserver, steps):
        assert _periods(flows) == EXPECTED_PERIODS


# ------------------------------------------------------------------------ publish, then reset


ROUNDS = 30


def _rate_limited(key: str) -> Any:
    return {"key": key, "parallelism": 5, "rate": 10, "period": "1m"}


def _hold(receiver: LoopbackReceiver, path: str) -> threading.Event:
    """Keep every attempt to ``path`` in flight until the returned event is set."""
    gate = threading.Event()
    receiver.gates[path] = gate
    return gate


def test_reset_rate_right_after_a_publish_leaves_the_count_at_zero_sync(
    client: QStash, receiver: LoopbackReceiver
):
    gate = _hold(receiver, "/reset-sync")
    counts = []
    try:
        for round_ in range(ROUNDS):
            key = _name("reset-sync")
            client.message.publish_json(
                url=receiver.url + "/reset-sync", body=round_, flow_control=_rate_limited(key)
            )
            client.flow_control.reset_rate(key)
            receiver.wait("/reset-sync", round_ + 1)  # the attempt has started
            counts.append(client.flow_control.get(key).rate_count)
    finally:
        gate.set()
    # The attempt counted when it started; the reset, which came after the publish, cleared it.
    assert counts == [0] * ROUNDS


def test_reset_rate_right_after_a_publish_leaves_the_count_at_zero_async(
    qstash_devserver: DevServerProcess, receiver: LoopbackReceiver
):
    gate = _hold(receiver, "/reset-async")

    async def steps(client: AsyncQStash) -> list[int]:
        counts = []
        for round_ in range(ROUNDS):
            key = _name("reset-async")
            await client.message.publish_json(
                url=receiver.url + "/reset-async", body=round_, flow_control=_rate_limited(key)
            )
            await client.flow_control.reset_rate(key)
            await asyncio.to_thread(receiver.wait, "/reset-async", round_ + 1)
            counts.append((await client.flow_control.get(key)).rate_count)
        return counts

    try:
        assert _run_async(qstash_devserver, steps) == [0] * ROUNDS
    finally:
        gate.set()


def test_reset_rate_starts_a_new_period_and_the_next_attempt_counts(
    client: QStash, receiver: LoopbackReceiver
):
    key = _name("reset-next")
    gate = _hold(receiver, "/reset-next")
    try:
        client.message.publish_json(
            url=receiver.url + "/reset-next", body=1, flow_control=_rate_limited(key)
        )
        reset_at_ms = int(time.time() * 1000)
        client.flow_control.reset_rate(key)
        after = client.flow_control.get(key)
        client.message.publish_json(
            url=receiver.url + "/reset-next", body=2, flow_control=_rate_limited(key)
        )
        receiver.wait("/reset-next", 2)
        counted = client.flow_control.get(key)
    finally:
        gate.set()
    assert after.rate_count == 0
    assert after.rate_period_start >= reset_at_ms  # the reset starts a new period
    assert counted.rate_count == 1


# ------------------------------------------------------------------------ forwarded headers

#: What a client forwarding every header it received (as the Workflow SDK does) sends along.
FORWARDED_NOISE = {
    "Upstash-Signature": "forged.signature.value",
    "Upstash-Message-Id": "msg_forged",
    "Upstash-Retried": "7",
    "Upstash-Topic-Name": "forged-group",
    "User-Agent": "forged-agent",
    "Content-Type": "text/forged",
    "Content-Length": "3",
    "Transfer-Encoding": "chunked",
    "Connection": "close",
    "Host": "forged.example",
    "Keep-Alive": "timeout=1",
    "TE": "trailers",
    "Trailer": "X-Forged",
    "Upgrade": "websocket",
    "Proxy-Authorization": "Basic Zm9yZ2Vk",
    "Proxy-Connection": "close",
    "X-Kept": "kept",
}
BODY = {"text": "a body longer than the forged Content-Length"}
NEVER_FORWARDED = [
    "Transfer-Encoding",
    "Keep-Alive",
    "TE",
    "Trailer",
    "Upgrade",
    "Proxy-Authorization",
    "Proxy-Connection",
]


def _assert_clean_delivery(
    got: Received, *, url: str, message_id: str, keys: dict[str, str], content_type: str
) -> None:
    for name in ("Upstash-Signature", "Upstash-Message-Id", "Content-Length", "Content-Type"):
        assert len(got.header_values(name)) == 1, (name, got.raw_headers)
    assert got.header_values("Upstash-Message-Id") == [message_id]
    assert got.header_values("Upstash-Retried") == ["0"]
    assert got.header_values("User-Agent") == ["Upstash-QStash"]
    assert got.header_values("Content-Type") == [content_type]
    assert got.header_values("Upstash-Topic-Name") == []
    assert got.header_values("Host") != ["forged.example"]
    assert got.header_values("Connection") != ["close"]
    for name in NEVER_FORWARDED:
        assert got.header_values(name) == [], name
    assert got.header_values("X-Kept") == ["kept"]
    assert got.body == json.dumps(BODY).encode()
    Receiver(keys["current"], keys["next"]).verify(
        signature=got.header_values("Upstash-Signature")[0], body=got.body.decode(), url=url
    )


def test_the_servers_delivery_headers_win_over_forwarded_ones_sync(
    client: QStash, receiver: LoopbackReceiver, qstash_devserver: DevServerProcess
):
    url = receiver.url + "/fwd-sync"
    response = client.message.publish_json(url=url, body=BODY, headers=FORWARDED_NOISE)
    (got,) = receiver.wait("/fwd-sync")
    _assert_clean_delivery(
        got,
        url=url,
        message_id=response.message_id,
        keys=qstash_devserver.keys(),
        content_type="application/json",
    )


def test_the_servers_delivery_headers_win_over_forwarded_ones_async(
    qstash_devserver: DevServerProcess, receiver: LoopbackReceiver
):
    url = receiver.url + "/fwd-async"

    async def steps(client: AsyncQStash) -> str:
        response = await client.message.publish_json(url=url, body=BODY, headers=FORWARDED_NOISE)
        return response.message_id

    message_id = _run_async(qstash_devserver, steps)
    (got,) = receiver.wait("/fwd-async")
    _assert_clean_delivery(
        got,
        url=url,
        message_id=message_id,
        keys=qstash_devserver.keys(),
        content_type="application/json",
    )


def test_a_forwarded_content_type_applies_when_the_publish_has_none(
    client: QStash, receiver: LoopbackReceiver
):
    url = receiver.url + "/fwd-type"
    client.message.publish(url=url, body="plain", headers={"Content-Type": "text/plain"})
    (got,) = receiver.wait("/fwd-type")
    assert got.header_values("Content-Type") == ["text/plain"]


def _callback_noise(prefix: str) -> dict[str, str]:
    return {f"{prefix}{name}": value for name, value in FORWARDED_NOISE.items()}


def _assert_clean_callback(got: Received, *, url: str, keys: dict[str, str]) -> None:
    for name in ("Upstash-Signature", "Upstash-Message-Id", "Content-Length", "Content-Type"):
        assert len(got.header_values(name)) == 1, (name, got.raw_headers)
    assert got.header_values("Upstash-Message-Id") != ["msg_forged"]
    assert got.header_values("Content-Type") == ["application/json"]
    assert got.header_values("User-Agent") == ["Upstash-QStash"]
    for name in NEVER_FORWARDED:
        assert got.header_values(name) == [], name
    assert got.header_values("X-Kept") == ["kept"]
    assert int(got.header_values("Content-Length")[0]) == len(got.body)
    assert "sourceMessageId" in got.json()
    Receiver(keys["current"], keys["next"]).verify(
        signature=got.header_values("Upstash-Signature")[0], body=got.body.decode(), url=url
    )


def test_callback_forward_headers_never_replace_the_servers_own_sync(
    client: QStash, receiver: LoopbackReceiver, qstash_devserver: DevServerProcess
):
    callback, failure = receiver.url + "/cb-sync", receiver.url + "/fcb-sync"
    client.message.publish_json(
        url=receiver.url + "/ok-sync",
        body=BODY,
        callback=callback,
        callback_headers=_callback_noise("Forward-"),
    )
    client.message.publish_json(
        url=receiver.script("/fail-sync", NON_RETRYABLE),
        body=BODY,
        failure_callback=failure,
        failure_callback_headers=_callback_noise("Forward-"),
    )
    keys = qstash_devserver.keys()
    (got,) = receiver.wait("/cb-sync")
    _assert_clean_callback(got, url=callback, keys=keys)
    (got,) = receiver.wait("/fcb-sync")
    _assert_clean_callback(got, url=failure, keys=keys)


def test_callback_forward_headers_never_replace_the_servers_own_async(
    qstash_devserver: DevServerProcess, receiver: LoopbackReceiver
):
    callback, failure = receiver.url + "/cb-async", receiver.url + "/fcb-async"
    failing = receiver.script("/fail-async", NON_RETRYABLE)

    async def steps(client: AsyncQStash) -> None:
        await client.message.publish_json(
            url=receiver.url + "/ok-async",
            body=BODY,
            callback=callback,
            # The Python SDK's other spelling: Upstash-Callback-<H> is forwarded as <H> too.
            callback_headers=FORWARDED_NOISE,
        )
        await client.message.publish_json(
            url=failing,
            body=BODY,
            failure_callback=failure,
            failure_callback_headers=_callback_noise("Forward-"),
        )

    _run_async(qstash_devserver, steps)
    keys = qstash_devserver.keys()
    (got,) = receiver.wait("/cb-async")
    _assert_clean_callback(got, url=callback, keys=keys)
    (got,) = receiver.wait("/fcb-async")
    _assert_clean_callback(got, url=failure, keys=keys)
