"""The official SDK's Flask examples, rewritten for Django changing only the framework glue,
started as their README says (a request published to the endpoint through QStash: the SDK's own
first answer then starts the run), delivered by the dev server to a live gunicorn."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from django_qstash.workflows import get_workflow
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def start(server: DjangoServer, name: str, body: str, **headers: str) -> float:
    """Publish ``body`` to the workflow with the official ``qstash`` SDK, as a client would;
    returns the time just before the publish (the run may begin before the publish answers)."""
    client = server.devserver.client()
    started = time.monotonic()
    client.message.publish(url=get_workflow(name).url, body=body, headers=headers)
    return started


def finished_run(server: DjangoServer, name: str, since_ms: int) -> dict[str, Any]:
    url = get_workflow(name).url

    def probe() -> dict[str, Any] | None:
        response = server.devserver.http.get("/v2/workflows/logs")
        for run in response.json()["runs"]:
            if (
                run["workflowUrl"] == url
                and run["workflowRunCreatedAt"] >= since_ms
                and run["workflowState"] == "RUN_SUCCESS"
            ):
                return dict(run)
        return None

    try:
        return wait_until(probe, timeout=60, message=f"a finished run of {name}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{server.log()[-5000:]}") from None


def outs(run: dict[str, Any]) -> dict[str, Any]:
    return {step["stepName"]: step["out"] for step in run["steps"][0]["steps"]}


def now_ms() -> int:
    return int(time.time() * 1000)


def test_sleep_example(via: DjangoServer) -> None:
    since = now_ms()
    started = start(via, "sleep", '"hello"', **{"Content-Type": "application/json"})
    run = finished_run(via, "sleep", since)
    # sleep_until 3 s, then sleep 2 s: 5 s from start to end, less up to half a second, since
    # the SDK rounds sleep_until's time to whole seconds (a run measured 4.996 s).
    assert time.monotonic() - started >= 4.5
    steps = outs(run)
    assert steps["step1"] == json.dumps("processed 'hello'")
    assert steps["step2"] == json.dumps("processed 'processed 'hello''")
    assert list(steps) == ["init", "step1", "sleep1", "step2", "sleep2", "step3"]
    assert "step 3 input processed 'processed 'hello'' output" in via.log()


def test_call_example(via: DjangoServer) -> None:
    since = now_ms()
    start(via, "call", '"call me"', **{"Content-Type": "application/json"})
    run = finished_run(via, "call", since)
    steps = outs(run)
    answer = json.loads(steps["get-data"])
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == {"message": "get data response"}
    assert steps["step2"] == json.dumps("processed 'get data response'")


def test_auth_example(via: DjangoServer) -> None:
    since = now_ms()
    start(via, "auth", '"x"', Authentication="Bearer secret_password")
    run = finished_run(via, "auth", since)
    assert outs(run)["step2"] == json.dumps("output 2")


def test_auth_example_refuses_without_the_password(via: DjangoServer) -> None:
    log_size = len(via.log())
    start(via, "auth", '"x"', Authentication="Bearer wrong")
    wait_until(
        lambda: "Authentication failed." in via.log()[log_size:],
        timeout=30,
        message="the auth example to refuse",
    )
