"""Publishing through the official Python SDK 3.4, unchanged: every ``Upstash-*`` publish header is honoured."""

from __future__ import annotations

import time

import pytest
from qstash.errors import QStashError

from tests.devserver.conftest import Receiver
from tests.support.devserver import DevServerProcess, wait_until

pytestmark = pytest.mark.slow


def test_publish_json_reaches_the_destination(client, receiver: Receiver):
    url = receiver.url + "/hook?x=1&y=2"
    response = client.message.publish_json(url=url, body={"a": 1}, headers={"X-Custom": "v"})
    assert response.message_id.startswith("msg_")
    assert response.deduplicated is False
    (got,) = receiver.wait("/hook")
    assert got.path == "/hook?x=1&y=2"  # the query string belongs to the destination
    assert got.method == "POST"
    assert got.body == b'{"a": 1}'
    assert got.header("Content-Type") == "application/json"
    assert got.header("X-Custom") == "v"
    assert got.header("User-Agent") == "Upstash-QStash"
    assert got.header("Upstash-Message-Id") == response.message_id
    assert got.header("Upstash-Retried") == "0"
    assert got.header("Upstash-Caller-Ip") == "127.0.0.1"
    assert got.header("Upstash-Signature")
    assert got.header("Authorization") is None


def test_publish_raw_body_method_and_content_type(client, receiver: Receiver):
    client.message.publish(
        url=receiver.url + "/raw",
        body=b"\x00\xffbinary",
        content_type="application/octet-stream",
        method="PUT",
        headers={"Upstash-Forward-Y": "w"},
    )
    (got,) = receiver.wait("/raw")
    assert (got.method, got.body) == ("PUT", b"\x00\xffbinary")
    assert got.header("Content-Type") == "application/octet-stream"
    assert got.header("Y") == "w"


def test_delay_and_not_before(client, receiver: Receiver):
    started = time.time()
    delayed = client.message.publish_json(url=receiver.url + "/delayed", body=1, delay="1s")
    not_before = client.message.publish_json(
        url=receiver.url + "/not-before", body=2, not_before=int(started) + 2
    )
    pending = client.message.get(delayed.message_id)
    assert pending.not_before - pending.created_at == pytest.approx(1000, abs=5)
    assert client.message.get(not_before.message_id).not_before == (int(started) + 2) * 1000
    (first,) = receiver.wait("/delayed")
    (second,) = receiver.wait("/not-before")
    assert first.at >= started + 0.99
    assert second.at >= int(started) + 2 - 0.01


def test_enqueue_is_fifo_and_honours_parallelism(client, receiver: Receiver):
    client.queue.upsert("fifo-one", parallelism=1)
    receiver.delays["/fifo"] = 0.05
    ids = [
        client.message.enqueue_json(queue="fifo-one", url=receiver.url + "/fifo", body=i).message_id
        for i in range(5)
    ]
    got = receiver.wait("/fifo", 5)
    assert [r.json() for r in got] == [0, 1, 2, 3, 4]
    assert [r.header("Upstash-Message-Id") for r in got] == ids
    assert receiver.max_active["/fifo"] == 1


def test_enqueue_parallelism_two(client, receiver: Receiver):
    client.queue.upsert("fifo-two", parallelism=2)
    receiver.delays["/par"] = 0.3
    for i in range(4):
        client.message.enqueue(queue="fifo-two", url=receiver.url + "/par", body=str(i))
    receiver.wait("/par", 4)
    assert receiver.max_active["/par"] == 2


def test_enqueue_creates_the_queue(client, receiver: Receiver):
    client.message.enqueue_json(queue="made-on-enqueue", url=receiver.url + "/q", body={})
    receiver.wait("/q")
    queue = client.queue.get("made-on-enqueue")
    assert (queue.name, queue.parallelism, queue.paused) == ("made-on-enqueue", 1, False)


def test_batch_and_batch_json(client, receiver: Receiver):
    responses = client.message.batch(
        [
            {"url": receiver.url + "/batch-a", "body": "a", "content_type": "text/plain"},
            {"url": receiver.url + "/batch-b", "body": "b", "queue": "batch-queue"},
        ]
    )
    json_responses = client.message.batch_json(
        [
            {"url": receiver.url + "/batch-c", "body": {"c": 1}, "headers": {"X-C": "c"}},
            {"url": receiver.url + "/batch-d", "body": None, "retries": 0},
        ]
    )
    assert all(r.message_id.startswith("msg_") for r in [*responses, *json_responses])
    assert receiver.wait("/batch-a")[0].body == b"a"
    assert receiver.wait("/batch-b")[0].body == b"b"
    c = receiver.wait("/batch-c")[0]
    assert (c.json(), c.header("X-C"), c.header("Content-Type")) == (
        {"c": 1},
        "c",
        "application/json",
    )
    assert receiver.wait("/batch-d")[0].body == b"null"
    assert client.queue.get("batch-queue").name == "batch-queue"


def test_batch_reads_lower_case_header_names(
    qstash_devserver: DevServerProcess, receiver: Receiver
):
    # The JS SDK sends batch item headers lower-cased.
    response = qstash_devserver.http.post(
        "/v2/batch",
        json=[
            {
                "destination": receiver.url + "/js",
                "headers": {
                    "content-type": "text/plain",
                    "upstash-forward-x-js": "1",
                    "upstash-method": "PATCH",
                },
                "body": "hi",
            }
        ],
    )
    assert response.status_code == 200, response.text
    got = receiver.wait("/js")[0]
    assert (got.method, got.header("x-js"), got.body) == ("PATCH", "1", b"hi")


def test_deduplication_id(client, receiver: Receiver, qstash_devserver: DevServerProcess):
    url = receiver.url + "/dedup"
    first = client.message.publish_json(url=url, body=1, deduplication_id="same-id", delay=60)
    second = client.message.publish_json(url=url, body=2, deduplication_id="same-id", delay=60)
    assert second.deduplicated is True
    assert second.message_id == first.message_id
    raw = qstash_devserver.http.post(
        f"/v2/publish/{url}", headers={"Upstash-Deduplication-Id": "same-id"}, content=b"3"
    )
    assert raw.status_code == 202
    assert raw.json() == {"messageId": first.message_id, "deduplicated": True}
    client.message.cancel(first.message_id)


def test_content_based_deduplication(client, receiver: Receiver):
    url = receiver.url + "/content"
    options = {"url": url, "content_based_deduplication": True, "delay": 60}
    first = client.message.publish_json(body={"same": True}, **options)
    again = client.message.publish_json(body={"same": True}, **options)
    other = client.message.publish_json(body={"same": False}, **options)
    assert (again.deduplicated, again.message_id) == (True, first.message_id)
    assert other.deduplicated is False
    assert other.message_id != first.message_id
    client.message.cancel_many([first.message_id, other.message_id])


def test_timeout_fails_the_attempt(client, receiver: Receiver, qstash_devserver):
    receiver.delays["/slow"] = 3
    response = client.message.publish_json(
        url=receiver.url + "/slow", body={}, timeout=1, retries=0
    )
    receiver.wait("/slow")
    entry = _wait_dlq(qstash_devserver, response.message_id)
    assert "timeout" in (entry.get("error") or "")
    assert entry["responseStatus"] == 0


def test_flow_control_parallelism(client, receiver: Receiver):
    receiver.delays["/fc-par"] = 0.2
    for i in range(4):
        client.message.publish_json(
            url=receiver.url + "/fc-par", body=i, flow_control={"key": "fc-par", "parallelism": 1}
        )
    got = receiver.wait("/fc-par", 4)
    assert receiver.max_active["/fc-par"] == 1
    message = client.message.publish_json(
        url=receiver.url + "/fc-par",
        body=9,
        delay=60,
        flow_control={"key": "fc-par", "parallelism": 1, "rate": 5, "period": 2},
    )
    flow = client.message.get(message.message_id).flow_control
    assert (flow.key, flow.parallelism, flow.rate, flow.period) == ("fc-par", 1, 5, 2)
    assert client.flow_control.get("fc-par").key == "fc-par"
    client.message.cancel(message.message_id)
    assert len(got) == 4


def test_flow_control_rate(client, receiver: Receiver):
    for i in range(4):
        client.message.publish_json(
            url=receiver.url + "/fc-rate",
            body=i,
            flow_control={"key": "fc-rate", "rate": 2, "period": 1},
        )
    got = receiver.wait("/fc-rate", 4, timeout=10)
    starts = sorted(r.at for r in got)
    # No more than `rate` starts inside any one-second period.
    assert starts[2] - starts[0] >= 0.9


def test_label_is_kept_and_filterable(client, receiver: Receiver):
    response = client.message.publish_json(
        url=receiver.url + "/lbl", body=1, label="my-label", delay=60
    )
    assert client.message.get(response.message_id).label == "my-label"
    client.message.cancel(response.message_id)
    logs = client.log.list(filter={"label": "my-label"}).logs
    assert {log.message_id for log in logs} == {response.message_id}


def test_invalid_destination_is_400(client):
    with pytest.raises(QStashError, match="status: 400"):
        client.message.publish_json(url="ftp://example.com/x", body=1)
    with pytest.raises(QStashError, match="status: 400"):
        client.message.publish_json(url="http://", body=1)


def test_invalid_header_values_are_400(client, receiver: Receiver):
    with pytest.raises(QStashError, match="status: 400"):
        client.message.publish_json(url=receiver.url, body=1, delay="soon")
    with pytest.raises(QStashError, match="status: 400"):
        client.message.publish_json(url=receiver.url, body=1, retry_delay="import os")


def test_wrong_or_missing_token_is_401(qstash_devserver: DevServerProcess, receiver: Receiver):
    from qstash import QStash

    wrong = QStash("not-the-token", base_url=qstash_devserver.url, retry=False)
    with pytest.raises(QStashError, match="status: 401"):
        wrong.message.publish_json(url=receiver.url, body=1)
    import httpx

    response = httpx.post(
        f"{qstash_devserver.url}/v2/publish/{receiver.url}/x", content=b"1", trust_env=False
    )
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    # The query-string form real QStash accepts.
    ok = httpx.post(
        f"{qstash_devserver.url}/v2/publish/{receiver.url}/tok?a=1&qstash_token={qstash_devserver.token}",
        content=b"1",
        trust_env=False,
    )
    assert ok.status_code == 200
    assert receiver.wait("/tok")[0].path == "/tok?a=1"


def _wait_dlq(server: DevServerProcess, message_id: str) -> dict:
    return wait_until(
        lambda: (server.dlq(messageId=message_id) or [None])[0],
        timeout=15,
        message=f"{message_id} in the DLQ",
    )
