"""Workflows through the real path: this process triggers with ``Workflow.trigger`` (the SDK's
header builder), the dev server delivers, a live gunicorn runs the steps with the official SDK."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from django_qstash.workflows import get_workflow
from tests.support.liveserver import DjangoServer
from tests.workflows.conftest import ThirdParty, run_log, steps, wait_for_state

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

SCENARIOS = ["tests.scenario", "tests.scenario_async"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_three_steps_complete_each_once(via: DjangoServer, key: str, name: str) -> None:
    run_id = get_workflow(name).trigger({"key": key})
    assert run_id.startswith("wfr_")
    run = wait_for_state(via, run_id, "RUN_SUCCESS")
    assert steps(via, key) == {"step1": 1, "step2-attempt": 1, "step2": 1, "step3": 1}
    names = [step["stepName"] for step in run["steps"][0]["steps"]]
    assert names == ["init", "step1", "step2", "step3"]
    final = via.task_runs(task="wf:step3", key=key)[0]["value"]
    assert final == ["step1 done", "step2 done"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_step_that_raises_is_retried_and_the_run_resumes(
    via: DjangoServer, key: str, name: str
) -> None:
    run_id = get_workflow(name).trigger({"key": key, "fail_times": 2})
    wait_for_state(via, run_id, "RUN_SUCCESS")
    # Step 1 ran once; step 2 failed twice, then succeeded on QStash's third delivery.
    assert steps(via, key) == {"step1": 1, "step2-attempt": 3, "step2": 1, "step3": 1}


@pytest.mark.parametrize("name", SCENARIOS)
def test_sleep_is_honoured(via: DjangoServer, key: str, name: str) -> None:
    run_id = get_workflow(name).trigger({"key": key, "sleep": 3})
    run = wait_for_state(via, run_id, "RUN_SUCCESS")
    assert steps(via, key) == {"step1": 1, "step2-attempt": 1, "step2": 1, "step3": 1}
    first = via.task_runs(task="wf:step1", key=key)[0]["created"]
    second = via.task_runs(task="wf:step2", key=key)[0]["created"]
    gap = _seconds(second) - _seconds(first)
    assert gap >= 3.0, f"step 2 ran {gap:.2f}s after step 1, before the 3 s sleep was over"
    sleep = [s for s in run["steps"][0]["steps"] if s["stepName"] == "pause"]
    assert [s["stepType"] for s in sleep] == ["SleepFor"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_call_returns_status_and_body_to_the_next_step(
    via: DjangoServer, key: str, name: str, third_party: ThirdParty
) -> None:
    run_id = get_workflow(name).trigger({"key": key, "call_url": third_party.url})
    wait_for_state(via, run_id, "RUN_SUCCESS")
    assert third_party.received == [{"key": key}]
    (call,) = via.task_runs(task="wf:call", key=key)
    assert call["value"] == {
        "status": 201,
        "body": {"echo": {"key": key}, "answer": "from the third party"},
    }
    assert steps(via, key) == {"step1": 1, "call": 1, "step2-attempt": 1, "step2": 1, "step3": 1}


@pytest.mark.parametrize("name", SCENARIOS)
def test_call_of_a_failing_third_party_returns_its_status(
    via: DjangoServer, key: str, name: str, third_party: ThirdParty
) -> None:
    third_party.status = 503
    run_id = get_workflow(name).trigger({"key": key, "call_url": third_party.url})
    wait_for_state(via, run_id, "RUN_SUCCESS")
    (call,) = via.task_runs(task="wf:call", key=key)
    assert call["value"]["status"] == 503
    assert call["value"]["body"]["echo"] == {"key": key}


@pytest.mark.parametrize("name", ["tests.doomed", "tests.doomed_async"])
def test_spent_retries_call_the_failure_function(via: DjangoServer, key: str, name: str) -> None:
    run_id = get_workflow(name).trigger({"key": key})
    wait_for_state(via, run_id, "RUN_FAILED")
    (failure,) = via.wait_for_runs(1, task="wf:failure", key=key)
    # retries=1: the first delivery and one retry, then the failure function, once.
    assert steps(via, key) == {"doomed-attempt": 2, "failure": 1}
    assert failure["value"]["status"] == 500
    assert "this step never succeeds" in failure["value"]["response"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_cancelled_run_stops(via: DjangoServer, key: str, name: str) -> None:
    definition = get_workflow(name)
    run_id = definition.trigger({"key": key, "sleep": 3})
    via.wait_for_runs(1, task="wf:step1", key=key)
    definition.cancel(run_id)
    run = wait_for_state(via, run_id, "RUN_CANCELED")
    # Well past the sleep: nothing after it ran.
    time.sleep(5)
    assert steps(via, key) == {"step1": 1}
    assert run_log(via.devserver, run_id)["workflowState"] == "RUN_CANCELED"
    assert "workflowRunCompletedAt" in run


def test_cancelling_an_unknown_run_is_an_error(via: DjangoServer) -> None:
    from qstash.errors import QStashError

    with pytest.raises(QStashError, match="not found"):
        get_workflow("tests.scenario").cancel("wfr_unknown")


@pytest.mark.parametrize("name", SCENARIOS)
def test_killed_server_resumes_at_the_last_finished_step(
    via: DjangoServer, key: str, name: str
) -> None:
    run_id = get_workflow(name).trigger({"key": key, "hold": 30})
    # Step 1 finished; step 2 is running (it holds for 30 s): kill the server under it.
    via.wait_for_runs(1, task="wf:step2-attempt", key=key)
    assert via.process is not None
    kill_with_workers(via.process)
    via.process = None
    assert steps(via, key) == {"step1": 1, "step2-attempt": 1}
    # QStash retries the lost delivery of step 2 on the next server (only step 2's first
    # attempt holds).
    via.start()
    wait_for_state(via, run_id, "RUN_SUCCESS", timeout=90)
    counts = steps(via, key)
    assert counts["step1"] == 1, counts
    assert counts["step2"] == 1, counts
    assert counts["step3"] == 1, counts
    assert counts["step2-attempt"] == 2, counts


def kill_with_workers(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL gunicorn's workers and its master: nothing finishes the step running now."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    process.kill()
    process.wait()


def _seconds(value: object) -> float:
    from datetime import datetime

    text = str(value).replace("Z", "+00:00")
    return datetime.fromisoformat(text).timestamp()
