"""State survives a restart (SQLite), and a message in flight at a SIGKILL is delivered after it."""

from __future__ import annotations

import threading

import pytest

from tests.devserver.conftest import NON_RETRYABLE, Receiver
from tests.support.devserver import wait_until

pytestmark = pytest.mark.slow


def test_state_survives_a_clean_restart(devserver_factory, receiver: Receiver):
    server = devserver_factory()
    client = server.client()
    pending = client.message.publish_json(url=receiver.url + "/pending", body=1, delay=600)
    schedule_id = client.schedule.create(
        destination=receiver.url + "/never", cron="0 0 1 1 *", schedule_id="yearly"
    )
    client.queue.upsert("kept", parallelism=3)
    client.url_group.upsert_endpoints("kept-group", [{"url": receiver.url + "/g"}])
    dead = client.message.publish_json(
        url=receiver.script("/dead", NON_RETRYABLE), body=2, label="survivor"
    )
    wait_until(lambda: client.dlq.list(filter={"label": "survivor"}).messages, timeout=10)

    assert server.stop() == 0
    server.start()
    client = server.client()

    assert client.message.get(pending.message_id).url == receiver.url + "/pending"
    assert client.schedule.get(schedule_id).cron == "0 0 1 1 *"
    assert client.queue.get("kept").parallelism == 3
    assert client.url_group.get("kept-group").endpoints[0].url == receiver.url + "/g"
    (entry,) = client.dlq.list(filter={"label": "survivor"}).messages
    assert entry.message_id == dead.message_id
    assert client.log.list(filter={"message_id": dead.message_id}).logs
    # Still scheduled for its original time (delivery after a restart: the SIGKILL tests).
    message = client.message.get(pending.message_id)
    assert message.not_before - message.created_at == 600_000
    client.message.cancel(pending.message_id)
    assert not receiver.at("/pending")


def test_a_message_in_flight_at_sigkill_is_delivered_after_restart(
    devserver_factory, receiver: Receiver
):
    server = devserver_factory()
    client = server.client()
    gate = receiver.gates["/inflight"] = threading.Event()
    response = client.message.publish_json(url=receiver.url + "/inflight", body={"n": 1})
    receiver.wait("/inflight")  # the attempt is now held open by the receiver

    server.kill()
    del receiver.gates["/inflight"]
    gate.set()  # the first attempt's answer goes nowhere: its connection died with the server
    server.start()

    attempts = receiver.wait("/inflight", 2, timeout=15)
    assert {a.header("Upstash-Message-Id") for a in attempts} == {response.message_id}
    # An attempt that never completed is not counted as a retry.
    assert [a.header("Upstash-Retried") for a in attempts] == ["0", "0"]
    client = server.client()
    wait_until(
        lambda: "DELIVERED" in server.message_states(response.message_id),
        timeout=10,
        message="the redelivery to be logged",
    )


def test_pending_retries_survive_sigkill(devserver_factory, receiver: Receiver):
    # A 1.2 s backoff (12 s x 0.1) so the retry is still pending when the server dies.
    server = devserver_factory("--retry-scale", "0.1", fast_retries=False)
    client = server.client()
    url = receiver.script("/retry-later", (500, {}, {}))
    response = client.message.publish_json(url=url, body=1)
    receiver.wait("/retry-later")
    wait_until(lambda: "RETRY" in server.message_states(response.message_id), timeout=10)
    server.kill()
    server.start()
    attempts = receiver.wait("/retry-later", 2, timeout=15)
    assert attempts[1].header("Upstash-Retried") == "1"
    assert attempts[1].header("Upstash-Message-Id") == response.message_id
