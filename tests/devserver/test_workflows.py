"""The dev server's Upstash Workflow support, on its own (no Django): step lists, run state that
survives a restart, cancel and cleanup, call and failure callbacks, and forwarding hygiene."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_qstash.devserver.config import DevServerConfig
from django_qstash.devserver.server import DevServer
from tests.devserver.conftest import Receiver
from tests.support.signing import body_claim

RUN = "wfr_devserver_test"


def start(db: Path) -> DevServer:
    return DevServer(DevServerConfig(port=0, db=str(db), quiet=True, retry_scale=0.001)).start()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DevServer]:
    running = start(tmp_path / "qstash.db")
    try:
        yield running
    finally:
        running.stop()


def api(server: DevServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token}", **kwargs.pop("headers", {})}
    return httpx.request(
        method, server.url + path, headers=headers, trust_env=False, timeout=10, **kwargs
    )


def workflow_headers(url: str, init: bool, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Upstash-Workflow-Init": "true" if init else "false",
        "Upstash-Workflow-RunId": RUN,
        "Upstash-Workflow-Url": url,
        "Upstash-Feature-Set": "LazyFetch,InitialBody",
        "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
        **extra,
    }


def step(step_id: int, name: str) -> dict[str, Any]:
    return {"stepId": step_id, "stepName": name, "stepType": "Run", "out": json.dumps(name)}


def decoded(delivery_body: bytes) -> list[Any]:
    entries = json.loads(delivery_body)
    assert all(entry["callType"] == "step" for entry in entries)
    return [json.loads(base64.b64decode(entry["body"])) for entry in entries]


def test_each_delivery_carries_the_step_list_so_far(receiver: Receiver, tmp_path: Path) -> None:
    url = receiver.script("/wf")
    server = start(tmp_path / "qstash.db")
    try:
        api(
            server, "POST", f"/v2/publish/{url}", headers=workflow_headers(url, True), json={"n": 1}
        )
        (first,) = receiver.wait("/wf")
        assert decoded(first.body) == [{"n": 1}]
        assert first.header("Upstash-Workflow-RunId") == RUN
        assert first.header("Upstash-Workflow-Url") == url
        assert first.header("Upstash-Workflow-Sdk-Version") == "1"
        # The signature covers the delivered list.
        assert body_claim(first.body) in _claims(first.header("Upstash-Signature"))
        batch = [
            {
                "destination": url,
                "headers": workflow_headers(url, False),
                "body": json.dumps(step(1, "a")),
            }
        ]
        api(server, "POST", "/v2/batch", json=batch)
        second = receiver.wait("/wf", 2)[1]
        assert decoded(second.body) == [{"n": 1}, step(1, "a")]
    finally:
        server.stop()

    # A restarted server continues the run where it was.
    server = start(tmp_path / "qstash.db")
    try:
        headers = workflow_headers(url, False)
        api(server, "POST", f"/v2/publish/{url}", headers=headers, json=step(2, "b"))
        third = receiver.wait("/wf", 3)[2]
        assert decoded(third.body) == [{"n": 1}, step(1, "a"), step(2, "b")]
        logs = api(server, "GET", "/v2/workflows/logs", params={"workflowRunId": RUN}).json()
        (run,) = logs["runs"]
        assert run["workflowState"] == "RUN_STARTED"
        assert [s["stepName"] for s in run["steps"][0]["steps"]] == ["init", "a", "b"]
        # The SDK's cleanup after the last step ends the run.
        cleanup = api(server, "DELETE", f"/v2/workflows/runs/{RUN}?cancel=false")
        assert cleanup.status_code == 200
        logs = api(server, "GET", "/v2/workflows/logs", params={"workflowRunId": RUN}).json()
        assert logs["runs"][0]["workflowState"] == "RUN_SUCCESS"
    finally:
        server.stop()


def _claims(token: str | None) -> str:
    assert token is not None
    payload = token.split(".")[1]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()


def test_cancel_drops_pending_steps_and_refuses_new_ones(
    server: DevServer, receiver: Receiver
) -> None:
    url = receiver.script("/wf")
    api(server, "POST", f"/v2/publish/{url}", headers=workflow_headers(url, True), json={})
    receiver.wait("/wf")
    delayed = api(
        server,
        "POST",
        f"/v2/publish/{url}",
        headers=workflow_headers(url, False, **{"Upstash-Delay": "60s"}),
        json=step(1, "later"),
    ).json()["messageId"]
    assert api(server, "DELETE", f"/v2/workflows/runs/{RUN}?cancel=true").status_code == 200
    assert api(server, "GET", f"/v2/messages/{delayed}").status_code == 404
    refused = api(
        server,
        "POST",
        f"/v2/publish/{url}",
        headers=workflow_headers(url, False),
        json=step(2, "x"),
    )
    assert refused.status_code == 400
    assert "RUN_CANCELED" in refused.json()["error"]


def test_unknown_runs_are_404(server: DevServer) -> None:
    response = api(server, "DELETE", "/v2/workflows/runs/wfr_nobody?cancel=true")
    assert response.status_code == 404
    assert "wfr_nobody" in response.json()["error"]
    bad = api(server, "DELETE", f"/v2/workflows/runs/{RUN}?cancel=maybe")
    assert bad.status_code == 400


def test_a_run_id_cannot_start_twice(server: DevServer, receiver: Receiver) -> None:
    url = receiver.script("/wf")
    assert api(server, "POST", f"/v2/publish/{url}", headers=workflow_headers(url, True)).is_success
    again = api(server, "POST", f"/v2/publish/{url}", headers=workflow_headers(url, True))
    assert again.status_code == 400
    assert "exists already" in again.json()["error"]


def test_forwarded_copies_of_server_and_framing_headers_are_dropped(
    server: DevServer, receiver: Receiver
) -> None:
    url = receiver.script("/plain")
    body = b'{"hello": "world"}'
    echoed = {
        "Content-Type": "application/json",
        # What the workflow SDK echoes from the request it received.
        "Upstash-Forward-Upstash-Signature": "stale.token.here",
        "Upstash-Forward-Upstash-Message-Id": "msg_stale",
        "Upstash-Forward-Upstash-Retried": "7",
        "Upstash-Forward-User-Agent": "python-httpx",
        "Upstash-Forward-Content-Length": "3",
        "Upstash-Forward-Host": "elsewhere.example",
        "Upstash-Forward-Connection": "close",
        "Upstash-Forward-Content-Type": "text/plain",
        "Upstash-Forward-X-Kept": "yes",
    }
    # Held back by a delay, to read exactly what its delivery would send.
    held = api(
        server,
        "POST",
        f"/v2/publish/{url}",
        content=body,
        headers={**echoed, "Upstash-Delay": "1h"},
    ).json()["messageId"]
    stored = server.store.get_message(held)
    assert stored is not None
    sent = [name.lower() for name, _ in server.deliverer.request_headers(stored, body)]
    assert sorted(sent) == sorted(
        [
            "content-type",
            "x-kept",
            "user-agent",
            "upstash-signature",
            "upstash-message-id",
            "upstash-retried",
            "upstash-caller-ip",
        ]
    )

    api(server, "POST", f"/v2/publish/{url}", content=body, headers=echoed)
    (delivery,) = receiver.wait("/plain")
    assert delivery.body == body
    assert delivery.header("Upstash-Signature") != "stale.token.here"
    assert delivery.header("Upstash-Retried") == "0"
    assert delivery.header("Host") != "elsewhere.example"
    assert delivery.header("Content-Type") == "application/json"
    assert delivery.header("X-Kept") == "yes"


def test_a_call_answer_comes_back_as_a_callback_with_the_workflow_headers(
    server: DevServer, receiver: Receiver
) -> None:
    workflow_url = receiver.script("/wf")
    third_party = receiver.script("/third-party", (404, {"missing": True}, {}))
    api(
        server,
        "POST",
        f"/v2/publish/{workflow_url}",
        headers=workflow_headers(workflow_url, True),
        json={},
    )
    receiver.wait("/wf")
    call_headers = {
        "Content-Type": "application/json",
        "Upstash-Method": "POST",
        "Upstash-Retries": "0",
        "Upstash-Workflow-RunId": RUN,
        "Upstash-Workflow-CallType": "toCallback",
        "Upstash-Callback": workflow_url,
        "Upstash-Callback-Workflow-RunId": RUN,
        "Upstash-Callback-Workflow-CallType": "fromCallback",
        "Upstash-Callback-Feature-Set": "LazyFetch,InitialBody",
        "Upstash-Callback-Forward-Upstash-Workflow-Callback": "true",
        "Upstash-Callback-Forward-Upstash-Workflow-StepId": "1",
        "Upstash-Callback-Forward-Upstash-Signature": "stale",
    }
    batch = [{"destination": third_party, "headers": call_headers, "body": '{"q": 1}'}]
    api(server, "POST", "/v2/batch", json=batch)
    (call,) = receiver.wait("/third-party")
    assert call.json() == {"q": 1}
    assert call.header("Upstash-Workflow-RunId") is None
    callback = receiver.wait("/wf", 2)[1]
    payload = callback.json()
    # A failed answer (404, no retries) still comes back: the workflow goes on with it.
    assert payload["status"] == 404
    assert json.loads(base64.b64decode(payload["body"])) == {"missing": True}
    assert callback.header("Upstash-Workflow-RunId") == RUN
    assert callback.header("Upstash-Workflow-Callback") == "true"
    assert callback.header("Upstash-Workflow-StepId") == "1"
    assert callback.header("Upstash-Workflow-Sdk-Version") is None
    assert callback.header("Upstash-Signature") != "stale"


def test_spent_retries_send_the_failure_callback_the_sdk_reads(
    server: DevServer, receiver: Receiver
) -> None:
    failing = receiver.script("/wf", (500, {"error": "boom", "message": "boom"}, {}))
    failure = receiver.script("/failure")
    headers = workflow_headers(
        failing,
        True,
        **{
            "Upstash-Retries": "0",
            "Upstash-Failure-Callback": failure,
            "Upstash-Failure-Callback-Forward-Upstash-Workflow-Is-Failure": "true",
            "Upstash-Failure-Callback-Workflow-Runid": RUN,
        },
    )
    api(server, "POST", f"/v2/publish/{failing}", headers=headers, json={"initial": True})
    (callback,) = receiver.wait("/failure")
    payload = callback.json()
    assert {"status", "header", "body", "url", "sourceBody", "workflowRunId"} <= set(payload)
    assert payload["workflowRunId"] == RUN
    assert json.loads(base64.b64decode(payload["sourceBody"])) == {"initial": True}
    assert callback.header("Upstash-Workflow-Is-Failure") == "true"
    assert callback.header("Upstash-Workflow-Sdk-Version") is None
    logs = api(server, "GET", "/v2/workflows/logs", params={"workflowRunId": RUN}).json()
    assert logs["runs"][0]["workflowState"] == "RUN_FAILED"
