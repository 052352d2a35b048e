"""Workflows through the real path: this process triggers with ``Workflow.trigger`` (the SDK's
header builder), the dev server delivers, a live gunicorn runs the steps with the official SDK."""

from __future__ import annotations

import pytest

from django_qstash.workflows import get_workflow
from tests.support.liveserver import DjangoServer
from tests.workflows.conftest import steps, wait_for_state

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
