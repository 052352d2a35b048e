"""The publish pipeline: a task call becomes a PreparedMessage, which any sender can send as it
is (the shared publisher, the SDK's sync or async client, or after a round trip through JSON)."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import override_settings

from django_qstash import hooks, pipeline, publisher, shared_task
from django_qstash.messages import PreparedMessage


@shared_task(
    rate_limit="2/s",
    time_limit=20,
    max_retries=2,
    headers={"X-Tenant": "acme", "not a header": "x"},
    label="reports",
)
def report(day: str, pages: int = 1) -> str:
    return f"{day}:{pages}"


@shared_task(queue="emails")
def send_mail(to: str) -> str:
    return to


def stripped(request) -> tuple[str, str, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    """What a request to QStash carries, without the transport's own headers."""
    transport = {"host", "user-agent", "accept", "accept-encoding", "connection", "content-length"}
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in transport}
    return request.method, request.path, headers, request.body


def test_prepare_is_what_delay_would_send_and_sends_nothing(qstash):
    prepared = pipeline.prepare(report, ["mon"], {"pages": 2})
    assert qstash.requests == []  # side-effect free
    assert prepared.destination == hooks.webhook_url()
    assert json.loads(prepared.body) == {
        "v": 1,
        "task": report.name,
        "args": ["mon"],
        "kwargs": {"pages": 2},
        "options": {"max_retries": 2},
    }
    assert prepared.headers == {"X-Tenant": "acme"}  # only what can be an HTTP header
    assert prepared.options == {
        "max_retries": 2,
        "timeout": "20s",
        "label": "reports",
        "flow_control": {"key": report.name, "rate": 2, "period": "1s"},
    }
    assert (prepared.task_name, prepared.args, prepared.kwargs) == (
        report.name,
        ["mon"],
        {"pages": 2},
    )


def test_call_options_go_through_the_same_table():
    prepared = pipeline.prepare(
        report, ["tue"], {}, {"countdown": 30, "max_retries": None, "queue": "reports"}
    )
    assert prepared.options["delay"] == 30
    assert "max_retries" not in prepared.options  # None: QStash's own maximum
    assert prepared.queue == "reports"
    body = json.loads(prepared.body)
    assert "max_retries" not in body["options"]
    assert body["options"]["publish"] == {"queue": "reports"}  # carried for self.retry()
    assert (
        "publish"
        not in json.loads(
            pipeline.prepare(report, ["tue"], {}, {"queue": "reports"}, carry=False).body
        )["options"]
    )


def test_a_bad_option_raises_before_anything_is_sent(qstash):
    with pytest.raises(TypeError, match="countdown or eta"):
        pipeline.prepare(report, ["x"], {}, {"countdown": 1, "eta": "2030-01-01T00:00:00"})
    with pytest.raises(hooks.ArgumentsNotSerializable, match="args\\[0\\]"):
        pipeline.prepare(report, [object()], {})
    assert qstash.requests == []


def test_a_prepared_message_survives_json_and_fails_loudly_on_unknown_options():
    prepared = pipeline.prepare(report, ["wed"], {"pages": 5}, {"countdown": 10})
    copy = PreparedMessage.from_dict(json.loads(json.dumps(prepared.to_dict())))
    assert copy == prepared
    data = prepared.to_dict()
    data["options"]["priority"] = 1
    with pytest.raises(ValueError, match="priority"):
        PreparedMessage.from_dict(data)


@override_settings(DJANGO_QSTASH_PUBLISH_RETRIES=0)
def test_the_sdk_clients_send_it_as_the_publisher_does(qstash):
    """No sender derives anything again: the shared publisher, the SDK's sync client and its
    async client put the same request on the wire for one prepared message."""
    from django.conf import settings
    from qstash import AsyncQStash, QStash

    token = settings.QSTASH_TOKEN
    prepared = PreparedMessage.from_dict(
        json.loads(json.dumps(pipeline.prepare(report, ["thu"], {}).to_dict()))
    )
    assert publisher.send(prepared) == "msg_recorded"
    QStash(token, base_url=qstash.url, retry=False).message.publish(**prepared.sdk_arguments())

    async def send_async() -> None:
        client = AsyncQStash(token, base_url=qstash.url, retry=False)
        await client.message.publish(**prepared.sdk_arguments())

    asyncio.run(send_async())
    shared, sync_sdk, async_sdk = (stripped(r) for r in qstash.requests)
    assert shared == sync_sdk == async_sdk
    method, path, headers, body = shared
    assert (method, path, body) == ("POST", f"/v2/publish/{hooks.webhook_url()}", prepared.body)
    assert headers["upstash-flow-control-key"] == report.name
    assert headers["upstash-forward-x-tenant"] == "acme"


def test_a_queued_message_is_enqueued(qstash):
    prepared = pipeline.prepare(send_mail, ["a@example.com"], {})
    assert prepared.queue == "emails"
    assert "queue" not in prepared.sdk_arguments()
    publisher.send(prepared)
    assert qstash.requests[0].path == f"/v2/enqueue/emails/{hooks.webhook_url()}"


def test_record_published_tells_the_store_and_the_hook(monkeypatch):
    published: list[tuple[str, str]] = []
    heard: list[dict] = []

    class Store:
        def record_published(self, task_id, task_name, args, kwargs):  # type: ignore[no-untyped-def]
            published.append((task_id, task_name))

    monkeypatch.setattr("django_qstash.pipeline.get_result_store", lambda: Store())

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        heard.append({"sender": sender, **kwargs})

    hooks.message_published.connect(receiver)
    try:
        prepared = pipeline.prepare(report, ["fri"], {})
        pipeline.record_published(prepared, "msg_1", report)
        quiet = pipeline.prepare(report, ["fri"], {}, {"ignore_result": True})
        pipeline.record_published(quiet, "msg_2", report)
    finally:
        hooks.message_published.disconnect(receiver)
    assert published == [("msg_1", report.name)]  # ignore_result: no row
    assert [(h["sender"], h["message_id"], h["args"]) for h in heard] == [
        (report, "msg_1", ["fri"]),
        (report, "msg_2", ["fri"]),
    ]


def test_one_message_is_sent_alike_by_dispatch_and_dispatch_one(qstash, monkeypatch):
    recorded: list[tuple[str, str]] = []

    class Store:
        def record_published(self, task_id, task_name, args, kwargs):  # type: ignore[no-untyped-def]
            recorded.append((task_id, args[0]))

    monkeypatch.setattr("django_qstash.pipeline.get_result_store", lambda: Store())
    [listed] = pipeline.dispatch([pipeline.prepare(report, ["mon"], {})], [report])
    single = pipeline.dispatch_one(pipeline.prepare(report, ["tue"], {}), report)
    untracked = pipeline.dispatch_one(pipeline.prepare(report, ["wed"], {}), None)
    publish_path = f"/v2/publish/{hooks.webhook_url()}"
    assert [request.path for request in qstash.requests] == [publish_path] * 3
    assert [json.loads(request.body)["args"] for request in qstash.requests] == [
        ["mon"],
        ["tue"],
        ["wed"],
    ]
    # A task message (a sender given) is recorded under the id QStash answered; a plain one is not.
    assert recorded == [(listed, "mon"), (single, "tue")]
    assert listed == single == untracked == "msg_recorded"  # the recorder's answer


def test_hooks_prepare_message_is_the_pipeline_by_name():
    by_name = hooks.prepare_message(report.name, ["sat"], {"pages": 1}, carry=False, jitter=0.5)
    direct = pipeline.prepare(report, ["sat"], {"pages": 1}, carry=False, jitter=0.5)
    assert by_name == direct
    with pytest.raises(hooks.TaskNotRegistered):
        hooks.prepare_message("no.such.task")
