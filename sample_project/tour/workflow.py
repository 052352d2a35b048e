"""The tour's workflow: the sample project's onboarding (three steps, a sleep between two of
them), started with ``trigger`` and followed through the dev server's run log."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tour.steps import Tour

GROUP = "workflow"


@dataclass
class FollowedRun:
    run_id: str
    state: str = "RUN_STARTED"
    #: The run's steps as the dev server logged them (``stepName``, ``stepType``, ``out``).
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state != "RUN_STARTED"


def start_workflow(tour: Tour, user: str) -> None:
    from example.workflows import onboarding

    run_id = onboarding.trigger({"user": user})
    tour.workflow_runs.append(FollowedRun(run_id))
    tour.say(f"{tour.elapsed():6.2f}s  {GROUP:<10} publish    run {run_id}")


def follow(tour: Tour, run: FollowedRun) -> None:
    """Print the run's new steps and its state once it has ended."""
    response = tour.http.get("/v2/workflows/logs", params={"workflowRunId": run.run_id})
    response.raise_for_status()
    runs = response.json()["runs"]
    if not runs:
        return
    logged = runs[0]
    for step in logged["steps"][0]["steps"][len(run.steps) :]:
        run.steps.append(step)
        if step["stepType"] != "Initial":
            detail = f"{step['stepName']} ({step['stepType']}) -> {describe(step['out'])}"
            tour.say(f"{tour.elapsed():6.2f}s  {GROUP:<10} step       {detail}")
    if logged["workflowState"] != run.state:
        run.state = logged["workflowState"]
        tour.say(f"{tour.elapsed():6.2f}s  {GROUP:<10} run        {run.state}")


def describe(out: Any) -> str:
    """A step's output, as the step returned it (the log keeps it JSON-encoded)."""
    try:
        return json.dumps(json.loads(out)) if isinstance(out, str) else json.dumps(out)
    except ValueError:
        return str(out)


def summary_lines(runs: list[FollowedRun]) -> list[str]:
    if not runs:
        return []
    lines = ["== workflow ==", "run | state | steps"]
    for run in runs:
        names = [s["stepName"] for s in run.steps if s["stepType"] != "Initial"]
        lines.append(f"{run.run_id} | {run.state} | {', '.join(names)}")
    return lines
