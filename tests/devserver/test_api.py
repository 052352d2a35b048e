"""Messages, DLQ, logs, signing keys, queues, schedules and URL groups through the official SDK."""

from __future__ import annotations

import pytest
from qstash import Receiver
from qstash.errors import QStashError

from tests.devserver.conftest import NON_RETRYABLE
from tests.devserver.conftest import Receiver as LoopbackReceiver
from tests.support.devserver import DevServerProcess, wait_until

pytestmark = pytest.mark.slow


# ------------------------------------------------------------------------ messages


def test_get_and_cancel_a_message(client, receiver: LoopbackReceiver, qstash_devserver):
    response = client.message.publish_json(
        url=receiver.url + "/later",
        body={"a": 1},
        delay=60,
        headers={"X-H": "v"},
        retries=2,
        retry_delay="1000",
        callback=receiver.url + "/cb",
        failure_callback=receiver.url + "/fcb",
        label="get-me",
    )
    message = client.message.get(response.message_id)
    assert message.message_id == response.message_id
    assert message.url == receiver.url + "/later"
    assert message.method == "POST"
    assert message.body == '{"a": 1}'
    assert message.headers["X-H"] == ["v"]
    assert message.max_retries == 2
    assert message.not_before - message.created_at == pytest.approx(60_000, abs=5)
    assert (message.callback, message.failure_callback) == (
        receiver.url + "/cb",
        receiver.url + "/fcb",
    )
    assert message.retry_delay_expression == "1000"
    assert message.label == "get-me"
    assert message.caller_ip == "127.0.0.1"
    client.message.cancel(response.message_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.message.get(response.message_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.message.cancel(response.message_id)
    assert qstash_devserver.message_states(response.message_id) == [
        "CREATED",
        "CANCEL_REQUESTED",
        "CANCELED",
    ]
    assert not receiver.at("/later")


def test_binary_body_is_shown_base64(client, receiver: LoopbackReceiver):
    response = client.message.publish(url=receiver.url + "/bin", body=b"\xff\xfe", delay=60)
    message = client.message.get(response.message_id)
    assert (message.body, message.body_base64) == (None, "//4=")
    client.message.cancel(response.message_id)


def test_cancel_many_and_all(devserver_factory, receiver: LoopbackReceiver):
    server = devserver_factory()
    client = server.client()
    ids = [
        client.message.publish_json(url=receiver.url + "/c", body=i, delay=60).message_id
        for i in range(5)
    ]
    assert client.message.cancel_many(ids[:2]) == 2
    assert client.message.cancel_many(ids[:2]) == 0
    # The JS SDK's form: ids as query parameters.
    js = server.http.delete("/v2/messages", params=[("messageIds", ids[2])])
    assert js.json() == {"cancelled": 1}
    assert client.message.cancel_all() == 2
    assert client.message.cancel_all() == 0
    assert not receiver.at("/c")


# ------------------------------------------------------------------------ DLQ


def _fill_dlq(client, receiver: LoopbackReceiver, count: int, label: str) -> list[str]:
    url = receiver.script("/dead", *([NON_RETRYABLE] * count))
    ids = [
        client.message.publish_json(url=url, body=i, label=label).message_id for i in range(count)
    ]
    wait_until(
        lambda: len(client.dlq.list(filter={"label": label}).messages) == count,
        timeout=15,
        message=f"{count} DLQ entries",
    )
    return ids


def test_dlq_list_filters_get_delete(client, receiver: LoopbackReceiver):
    ids = _fill_dlq(client, receiver, 3, "dlq-a")
    listed = client.dlq.list(filter={"label": "dlq-a"})
    assert {m.message_id for m in listed.messages} == set(ids)
    assert all(m.response_status == 489 and m.dlq_id for m in listed.messages)
    assert client.dlq.list(filter={"label": "dlq-a", "response_status": 500}).messages == []
    by_url = client.dlq.list(filter={"url": receiver.url + "/dead", "label": "dlq-a"})
    assert len(by_url.messages) == 3
    page = client.dlq.list(count=2, filter={"label": "dlq-a"})
    assert len(page.messages) == 2
    assert page.cursor
    rest = client.dlq.list(cursor=page.cursor, count=2, filter={"label": "dlq-a"})
    assert len(rest.messages) == 1
    assert rest.cursor is None
    entry = client.dlq.get(listed.messages[0].dlq_id)
    assert entry.message_id == listed.messages[0].message_id
    assert entry.response_body == '{"error": "no"}'
    client.dlq.delete(entry.dlq_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.dlq.get(entry.dlq_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.dlq.delete(entry.dlq_id)
    remaining = [m.dlq_id for m in client.dlq.list(filter={"label": "dlq-a"}).messages]
    assert client.dlq.delete_many(remaining) == 2
    assert client.dlq.list(filter={"label": "dlq-a"}).messages == []


def test_dlq_retry(client, receiver: LoopbackReceiver, qstash_devserver: DevServerProcess):
    (message_id,) = _fill_dlq(client, receiver, 1, "dlq-retry")
    (entry,) = client.dlq.list(filter={"label": "dlq-retry"}).messages
    # Python SDK 3.4 has no DLQ retry: the endpoint, as the JS SDK and the docs call it.
    response = qstash_devserver.http.post(f"/v2/dlq/retry/{entry.dlq_id}")
    assert response.status_code == 201
    new_id = response.json()["messageId"]
    assert new_id != message_id
    retried = receiver.wait("/dead", 2)[1]
    assert retried.header("Upstash-Message-Id") == new_id
    assert client.dlq.list(filter={"label": "dlq-retry"}).messages == []
    missing = qstash_devserver.http.post(f"/v2/dlq/retry/{entry.dlq_id}")
    assert missing.status_code == 404
    assert "error" in missing.json()


# ------------------------------------------------------------------------ logs


def test_logs_states_and_both_paths(client, receiver: LoopbackReceiver, qstash_devserver):
    response = client.message.publish_json(url=receiver.url + "/logged", body=1, label="logged")
    receiver.wait("/logged")
    wait_until(
        lambda: "DELIVERED" in qstash_devserver.message_states(response.message_id), timeout=10
    )
    logs = client.log.list(filter={"message_id": response.message_id}).logs
    assert [log.state.value for log in logs] == ["DELIVERED", "ACTIVE", "CREATED"]
    assert all(log.url == receiver.url + "/logged" for log in logs)
    assert client.log.list(filter={"label": "logged"}).logs
    from qstash.log import LogState

    delivered = client.log.list(
        filter={"message_id": response.message_id, "state": LogState.DELIVERED}
    ).logs
    assert len(delivered) == 1
    assert delivered[0].response_status == 200
    openapi = qstash_devserver.http.get("/v2/logs", params={"messageId": response.message_id})
    assert len(openapi.json()["logs"]) == 3
    page = client.log.list(count=1, filter={"message_id": response.message_id})
    assert len(page.logs) == 1
    assert page.cursor


# ------------------------------------------------------------------------ signing keys


def test_signing_keys_get_and_rotate(devserver_factory, receiver: LoopbackReceiver):
    server = devserver_factory()
    client = server.client()
    keys = client.signing_key.get()
    assert (keys.current, keys.next) == (
        "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
        "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
    )
    rotated = client.signing_key.rotate()
    assert rotated.current == keys.next
    assert rotated.next.startswith("sig_")
    assert len(rotated.next) == 32
    assert client.signing_key.get() == rotated
    url = receiver.url + "/after-rotate"
    client.message.publish(url=url, body="x")
    (got,) = receiver.wait("/after-rotate")
    Receiver(rotated.current, rotated.next).verify(
        signature=got.header("Upstash-Signature"), body="x", url=url
    )
    # The rotation is kept across a restart.
    server.restart()
    assert server.client().signing_key.get() == rotated


# ------------------------------------------------------------------------ queues


def test_queue_lifecycle(client, receiver: LoopbackReceiver):
    client.queue.upsert("lifecycle", parallelism=2)
    queue = client.queue.get("lifecycle")
    assert (queue.name, queue.parallelism, queue.paused, queue.lag) == ("lifecycle", 2, False, 0)
    assert queue.created_at > 0
    assert queue.updated_at >= queue.created_at
    assert "lifecycle" in {q.name for q in client.queue.list()}

    client.queue.pause("lifecycle")
    assert client.queue.get("lifecycle").paused is True
    client.message.enqueue_json(queue="lifecycle", url=receiver.url + "/held", body=1)
    wait_until(lambda: client.queue.get("lifecycle").lag == 1, timeout=5)
    assert not receiver.at("/held")
    client.queue.resume("lifecycle")
    receiver.wait("/held")
    assert client.queue.get("lifecycle").paused is False

    client.queue.upsert("lifecycle", parallelism=3)
    assert client.queue.get("lifecycle").parallelism == 3
    client.queue.delete("lifecycle")
    with pytest.raises(QStashError, match="status: 404"):
        client.queue.get("lifecycle")
    with pytest.raises(QStashError, match="status: 400"):
        client.queue.upsert("bad name!")


# ------------------------------------------------------------------------ schedules


def test_schedule_lifecycle(client, receiver: LoopbackReceiver, qstash_devserver):
    url = receiver.url + "/scheduled"
    schedule_id = client.schedule.create_json(
        destination=url,
        cron="* * * * *",
        body={"tick": True},
        headers={"X-S": "1"},
        retries=1,
        label="sched",
    )
    assert schedule_id.startswith("scd_")
    first = receiver.wait("/scheduled", timeout=10)[0]
    assert first.header("Upstash-Schedule-Id") == schedule_id
    assert first.json() == {"tick": True}
    assert first.header("X-S") == "1"
    keys = qstash_devserver.keys()
    Receiver(keys["current"], keys["next"]).verify(
        signature=first.header("Upstash-Signature"), body=first.body.decode(), url=url
    )

    def delivered_state():
        schedule = client.schedule.get(schedule_id)
        states = schedule.last_schedule_states or {}
        return schedule if "SUCCESS" in {s.value for s in states.values()} else None

    schedule = wait_until(delivered_state, timeout=10)
    assert (schedule.destination, schedule.cron, schedule.retries) == (url, "* * * * *", 1)
    assert schedule.method == "POST"
    assert schedule.paused is False
    assert schedule.last_schedule_time
    assert schedule.next_schedule_time
    assert schedule.label == "sched"
    assert schedule_id in {s.schedule_id for s in client.schedule.list()}

    client.schedule.pause(schedule_id)
    assert client.schedule.get(schedule_id).paused is True
    client.schedule.resume(schedule_id)
    assert client.schedule.get(schedule_id).paused is False
    # openapi's POST form is accepted too.
    assert qstash_devserver.http.post(f"/v2/schedules/{schedule_id}/pause").status_code == 200
    assert client.schedule.get(schedule_id).paused is True

    client.schedule.delete(schedule_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.schedule.get(schedule_id)
    with pytest.raises(QStashError, match="status: 404"):
        client.schedule.delete(schedule_id)


def test_schedule_upsert_by_id_queue_and_cron_tz(client, receiver: LoopbackReceiver):
    url = receiver.url + "/upserted"
    created = client.schedule.create(
        destination=url, cron="0 4 * * *", schedule_id="my.schedule-1", body="v1"
    )
    assert created == "my.schedule-1"
    updated = client.schedule.create(
        destination=url,
        cron="CRON_TZ=America/New_York 0 5 * * *",
        schedule_id="my.schedule-1",
        body="v2",
        queue="sched-queue",
    )
    assert updated == "my.schedule-1"
    schedule = client.schedule.get("my.schedule-1")
    assert (schedule.cron, schedule.body, schedule.queue) == (
        "CRON_TZ=America/New_York 0 5 * * *",
        "v2",
        "sched-queue",
    )
    assert [s.schedule_id for s in client.schedule.list()].count("my.schedule-1") == 1
    client.schedule.delete("my.schedule-1")


def test_scheduled_messages_go_to_the_queue(client, receiver: LoopbackReceiver, qstash_devserver):
    schedule_id = client.schedule.create(
        destination=receiver.url + "/sq", cron="* * * * *", body="q", queue="sched-q2"
    )
    got = receiver.wait("/sq", timeout=10)[0]
    client.schedule.delete(schedule_id)
    message_id = got.header("Upstash-Message-Id")
    created = [e for e in qstash_devserver.events(messageId=message_id) if e["state"] == "CREATED"]
    assert created[0]["queueName"] == "sched-q2"
    assert created[0]["scheduleId"] == schedule_id


@pytest.mark.parametrize("cron", ["* * * *", "every minute", "61 * * * *", "* * * * * *"])
def test_bad_cron_is_400(client, receiver: LoopbackReceiver, cron):
    with pytest.raises(QStashError, match="status: 400"):
        client.schedule.create(destination=receiver.url, cron=cron)


def test_bad_schedule_id_is_400(client, receiver: LoopbackReceiver):
    with pytest.raises(QStashError, match="status: 400"):
        client.schedule.create(destination=receiver.url, cron="* * * * *", schedule_id="a b")


# ------------------------------------------------------------------------ URL groups


def test_url_groups(client, receiver: LoopbackReceiver):
    client.url_group.upsert_endpoints(
        "group-a",
        [{"url": receiver.url + "/ep1", "name": "one"}, {"url": receiver.url + "/ep2"}],
    )
    group = client.url_group.get("group-a")
    assert {e.url for e in group.endpoints} == {receiver.url + "/ep1", receiver.url + "/ep2"}
    assert "group-a" in {g.name for g in client.url_group.list()}
    responses = client.message.publish_json(url_group="group-a", body={"fan": "out"})
    assert {r.url for r in responses} == {receiver.url + "/ep1", receiver.url + "/ep2"}
    one = receiver.wait("/ep1")[0]
    two = receiver.wait("/ep2")[0]
    assert one.header("Upstash-Topic-Name") == "group-a"
    assert one.header("Upstash-Message-Id") != two.header("Upstash-Message-Id")
    client.url_group.remove_endpoints("group-a", [{"name": "one"}])
    assert [e.url for e in client.url_group.get("group-a").endpoints] == [receiver.url + "/ep2"]
    client.url_group.delete("group-a")
    with pytest.raises(QStashError, match="status: 404"):
        client.url_group.get("group-a")
    with pytest.raises(QStashError, match="status: 404"):
        client.message.publish_json(url_group="group-a", body=1)


# ------------------------------------------------------------------------ unknown ids


def test_unknown_ids_are_404_with_the_error_shape(qstash_devserver: DevServerProcess):
    for method, path in [
        ("GET", "/v2/messages/msg_nope"),
        ("DELETE", "/v2/messages/msg_nope"),
        ("GET", "/v2/dlq/0-0"),
        ("GET", "/v2/schedules/scd_nope"),
        ("PATCH", "/v2/schedules/scd_nope/pause"),
        ("GET", "/v2/queues/nope"),
        ("GET", "/v2/topics/nope"),
        ("GET", "/v2/nothing-here"),
    ]:
        response = qstash_devserver.http.request(method, path)
        assert response.status_code == 404, (method, path)
        assert set(response.json()) == {"error"}
