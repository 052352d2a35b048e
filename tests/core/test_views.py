"""The webhook through Django's test client: every answer it gives, and what it runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from django_qstash import hooks, shared_task
from tests.support.signing import make_token

URL = "http://127.0.0.1:8000/qstash/webhook/"
calls: list[Any] = []


@shared_task
def remember(value: Any) -> dict[str, Any]:
    calls.append(value)
    return {"seen": value}


@shared_task
def explode() -> None:
    calls.append("explode")
    raise KeyError("nope")


@shared_task(bind=True)
def who_am_i(self) -> dict[str, Any]:
    request = self.request
    return {"id": request.id, "retries": request.retries, "schedule_id": request.schedule_id}


@shared_task
async def async_square(value: int) -> int:
    calls.append(value)
    return value * value


@pytest.fixture(autouse=True)
def no_result_store() -> Iterator[None]:
    # These tests cover core alone; the results app's store is tested with that app.
    store = hooks.get_result_store()
    hooks.unregister_result_store()
    calls.clear()
    yield
    if store is not None:
        hooks.register_result_store(store)


def deliver(
    body: bytes | dict[str, Any],
    *,
    client: Client | None = None,
    token: str | None = None,
    content_type: str = "application/json",
    **headers: str,
):
    raw = json.dumps(body).encode() if isinstance(body, dict) else body
    headers.setdefault("Upstash-Message-Id", "msg_test")
    headers.setdefault("Upstash-Retried", "0")
    signature = make_token(raw, URL) if token is None else token
    if signature:
        headers["Upstash-Signature"] = signature
    return (client or Client()).post(
        URL.split("8000")[1], raw, content_type=content_type, headers=headers
    )


def envelope(task: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"v": 1, "task": task, "args": list(args), "kwargs": kwargs}


def test_success_runs_the_task_and_answers_200_with_the_result():
    response = deliver(envelope(remember.name, "hi"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "task_id": "msg_test",
        "result": {"seen": "hi"},
        "stored": True,
    }
    assert calls == ["hi"]


def test_a_task_that_raises_answers_500_so_qstash_retries(caplog):
    response = deliver(envelope(explode.name))
    assert response.status_code == 500
    assert response.json()["status"] == "failure"
    assert response.json()["error"] == "KeyError: 'nope'"
    assert response.json()["final"] is False
    assert "Upstash-NonRetryable-Error" not in response.headers
    # A failure QStash retries is one warning with the reason; the traceback comes with the
    # final failure (tests/operations/test_logs.py).
    assert "(attempt 1 of 4); QStash will retry: KeyError: 'nope'" in caplog.text
    assert calls == ["explode"]


def test_the_final_attempt_is_reported():
    body = envelope(explode.name)
    body["options"] = {"max_retries": 1}
    assert deliver(body, **{"Upstash-Retried": "1"}).json()["final"] is True


@pytest.mark.parametrize(
    ("body", "reason", "error"),
    [
        (b"{not json", "malformed_message", "not valid UTF-8 JSON"),
        (b"\xff\xfe\xfd", "malformed_message", "not valid UTF-8 JSON"),
        (b"[]", "malformed_message", "must be a JSON object"),
        (b'{"v": 2, "task": "x"}', "malformed_message", "unknown envelope version 2"),
        (
            b'{"v": 1, "task": "os.system", "args": ["echo owned"]}',
            "unknown_task",
            "no task named 'os.system'",
        ),
        (
            b'{"v": 1, "task": "json.loads", "args": ["1"]}',
            "unknown_task",
            "no task named 'json.loads'",
        ),
        (
            b'{"v": 1, "task": "tests.core.test_views.remember", "args": []}',
            "bad_arguments",
            "missing a required argument",
        ),
        (
            b'{"v": 1, "task": "tests.core.test_views.remember", "args": [1], "kwargs": {"x": 1}}',
            "bad_arguments",
            "unexpected keyword argument 'x'",
        ),
    ],
)
def test_what_retrying_cannot_fix_is_refused_with_489(body, reason, error):
    response = deliver(body)
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["status"] == reason
    assert error in response.json()["error"]
    assert calls == []


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (lambda: "", "missing Upstash-Signature"),
        (lambda: "garbage", "not a well-formed JWT"),
        (lambda: make_token(b"{}", URL), "body does not match"),
        (lambda: make_token(b"{}", "http://evil.example/qstash/webhook/"), "another URL"),
    ],
    ids=["missing", "garbage", "body does not match", "another URL"],
)
def test_bad_signatures_are_refused_with_401_and_nothing_runs(token, error):
    # Tokens are made when the test runs: made at collection, they expire in a long run.
    response = deliver(envelope(remember.name, 1), token=token())
    assert response.status_code == 401
    assert response.json()["status"] == "invalid_signature"
    assert error in response.json()["error"]
    assert calls == []


@override_settings(ALLOWED_HOSTS=["*"])
def test_the_url_comes_from_settings_not_the_host_header():
    raw = json.dumps(envelope(remember.name, 1)).encode()
    forged = make_token(raw, "http://attacker.example/qstash/webhook/")
    response = Client().post(
        "/qstash/webhook/",
        raw,
        content_type="application/json",
        headers={"Upstash-Signature": forged},
        HTTP_HOST="attacker.example",
    )
    assert response.status_code == 401
    assert "another URL" in response.json()["error"]
    assert calls == []


def test_the_next_signing_key_is_accepted():
    raw = json.dumps(envelope(remember.name, 1)).encode()
    from tests.support.signing import NEXT_KEY

    assert deliver(raw, token=make_token(raw, URL, key=NEXT_KEY)).status_code == 200


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_only_post_is_allowed(method):
    response = getattr(Client(), method)("/qstash/webhook/")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["status"] == "method_not_allowed"


@override_settings(DJANGO_QSTASH_MAX_BODY_SIZE=100)
def test_a_body_over_the_limit_is_refused_with_413():
    response = deliver(envelope(remember.name, "x" * 200))
    assert response.status_code == 413
    assert response.json()["status"] == "too_large"
    assert calls == []


def test_a_non_json_content_type_is_refused_with_415():
    response = deliver(b"hello", content_type="text/plain")
    assert response.status_code == 415
    assert "text/plain" in response.json()["error"]


def test_delivery_headers_reach_the_task_and_the_hooks():
    seen: list[hooks.Delivery] = []

    def receiver(sender: Any, delivery: hooks.Delivery, **kwargs: Any) -> None:
        seen.append(delivery)

    hooks.task_received.connect(receiver)
    try:
        response = deliver(
            envelope(who_am_i.name),
            **{
                "Upstash-Message-Id": "msg_42",
                "Upstash-Retried": "2",
                "Upstash-Schedule-Id": "scd_7",
            },
        )
    finally:
        hooks.task_received.disconnect(receiver)
    assert response.json()["result"] == {"id": "msg_42", "retries": 2, "schedule_id": "scd_7"}
    (delivery,) = seen
    assert (delivery.message_id, delivery.retried, delivery.schedule_id) == ("msg_42", 2, "scd_7")
    assert delivery.attempt == 3
    assert delivery.signature_id.startswith("jwt_")


def test_every_hook_is_sent_in_order_and_a_raising_receiver_changes_nothing(caplog):
    events: list[str] = []

    def track(name: str):
        def receiver(sender: Any, **kwargs: Any) -> None:
            events.append(name)
            if name == "started":
                raise RuntimeError("a broken receiver")

        return receiver

    receivers = {
        "received": hooks.task_received,
        "started": hooks.task_started,
        "succeeded": hooks.task_succeeded,
        "failed": hooks.task_failed,
    }
    connected = {name: track(name) for name in receivers}
    for name, signal in receivers.items():
        signal.connect(connected[name])
    try:
        ok = deliver(envelope(remember.name, 1))
        failed = deliver(envelope(explode.name))
    finally:
        for name, signal in receivers.items():
            signal.disconnect(connected[name])
    assert ok.status_code == 200
    assert failed.status_code == 500
    assert events == ["received", "started", "succeeded", "received", "started", "failed"]
    assert "a broken receiver" in caplog.text


def test_succeeded_and_failed_hooks_carry_the_outcome():
    got: dict[str, Any] = {}

    def on_success(sender: Any, result: Any, duration: float, **kwargs: Any) -> None:
        got["result"] = result

    def on_failure(
        sender: Any, exception: BaseException, traceback: str, final: bool, **kwargs: Any
    ) -> None:
        got["exception"], got["traceback"], got["final"] = exception, traceback, final

    hooks.task_succeeded.connect(on_success)
    hooks.task_failed.connect(on_failure)
    try:
        deliver(envelope(remember.name, 5))
        deliver(envelope(explode.name))
    finally:
        hooks.task_succeeded.disconnect(on_success)
        hooks.task_failed.disconnect(on_failure)
    assert got["result"] == {"seen": 5}
    assert isinstance(got["exception"], KeyError)
    assert "raise KeyError" in got["traceback"]
    assert got["final"] is False


def test_async_tasks_run_under_wsgi():
    response = deliver(envelope(async_square.name, 7))
    assert response.json()["result"] == 49


def test_async_tasks_run_under_asgi():
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    raw = json.dumps(envelope(async_square.name, 6)).encode()

    async def post() -> Any:
        return await AsyncClient().post(
            "/qstash/webhook/",
            raw,
            content_type="application/json",
            headers={"Upstash-Signature": make_token(raw, URL), "Upstash-Message-Id": "msg_a"},
        )

    response = async_to_sync(post)()
    assert response.status_code == 200
    assert response.json()["result"] == 36


def test_a_non_json_return_value_does_not_fail_the_delivery():
    @shared_task(name="tests.returns_object")
    def returns_object() -> object:
        return object()

    response = deliver(envelope("tests.returns_object"))
    assert response.status_code == 200
    assert response.json()["result"].startswith("<object object")


def test_a_nan_return_value_is_answered_as_strict_json():
    @shared_task(name="tests.returns_nan")
    def returns_nan() -> list[float]:
        return [float("nan"), float("inf")]

    response = deliver(envelope("tests.returns_nan"))
    assert response.status_code == 200
    answer = json.loads(response.content, parse_constant=lambda c: pytest.fail(f"{c} in answer"))
    assert answer["result"] == "[nan, inf]"


def test_a_failure_on_the_last_known_attempt_is_non_retryable():
    body = envelope(explode.name)
    body["options"] = {"max_retries": 2}
    response = deliver(body, **{"Upstash-Retried": "2"})
    assert response.status_code == 489
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["final"] is True
    # Without a known retry budget QStash decides: a retryable answer.
    assert deliver(envelope(explode.name), **{"Upstash-Retried": "5"}).status_code == 500


def test_without_a_message_id_the_signed_token_identifies_the_delivery():
    seen: list[str] = []

    def receiver(sender: Any, delivery: hooks.Delivery, **kwargs: Any) -> None:
        seen.append(delivery.message_id)

    raw = json.dumps(envelope(remember.name, 1)).encode()
    with_jti = make_token(raw, URL, jti="jwt_known")
    without_jti = make_token(raw, URL, jti=...)
    hooks.task_received.connect(receiver)
    try:
        for token in (with_jti, without_jti, without_jti):
            Client().post(
                "/qstash/webhook/",
                raw,
                content_type="application/json",
                headers={"Upstash-Signature": token},
            )
    finally:
        hooks.task_received.disconnect(receiver)
    assert seen[0] == "jti:jwt_known"
    assert seen[1].startswith("sig:")
    assert seen[1] == seen[2]  # the same token, the same id: a replay is recognisable


def test_the_webhook_is_exempt_from_atomic_requests():
    from django_qstash.views import qstash_webhook_view

    assert "default" in qstash_webhook_view._non_atomic_requests
