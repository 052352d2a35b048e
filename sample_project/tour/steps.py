"""What the tour does (publish a task, start a chain, a schedule) and how it follows each message
through the dev server's log and the results table until it reaches its final state."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from tour.servers import Stack
from tour.workflow import FollowedRun, follow, start_workflow

#: Seconds the countdown task waits before QStash delivers it.
COUNTDOWN = 4
#: The whole tour gives up after this many seconds (the demo must finish within two minutes).
TOUR_TIMEOUT = 60.0
#: Seconds between two publishes of the tour, to follow each task on its own.
STEP_PAUSE = 0.4

FINAL_QSTASH = {"DELIVERED", "FAILED", "CANCELED"}
FINAL_DJANGO = {"SUCCESS", "FAILURE"}


@dataclass
class Step:
    """One row of the tour: one QStash message, and what became of it."""

    key: str
    call: str
    message_id: str
    task_name: str = ""
    qstash: str = "-"
    django: str = "-"
    attempts: int = 0
    result: str = ""

    @property
    def group(self) -> str:
        return self.key.split(".")[0]

    @property
    def done(self) -> bool:
        return self.qstash in FINAL_QSTASH and self.django in FINAL_DJANGO


@dataclass
class Action:
    """Something the tour does to show a feature: publish a task, start a chain, a schedule."""

    key: str
    call: str
    run: Callable[[Tour], None]


def build_actions(run_id: str) -> list[Action]:
    """What the tour does, in order. Features that are not installed are left out."""
    from example import tasks

    def key(name: str) -> str:
        return f"{name}-{run_id}"

    def publish(step: str, call: str, send: Callable[[], Any]) -> Action:
        return Action(step, call, lambda tour: tour.track(step, call, send().id))

    actions = [
        publish(
            "plain", "math_add_task.delay(12, 454)", lambda: tasks.math_add_task.delay(12, 454)
        ),
        publish(
            "countdown",
            f'hello_world.apply_async(args=("Tony Stark",), countdown={COUNTDOWN})',
            lambda: tasks.hello_world.apply_async(
                args=("Tony Stark",), kwargs={"activity": "building in a cave"}, countdown=COUNTDOWN
            ),
        ),
        publish(
            "retry",
            "fail_until.delay(key, succeed_on_attempt=3)",
            lambda: tasks.fail_until.delay(key("retry"), succeed_on_attempt=3),
        ),
        publish(
            "fails",
            "always_fails.delay(key)  # max_retries=0",
            lambda: tasks.always_fails.delay(key("fails")),
        ),
        publish(
            "bound",
            "bound_info.delay(key)  # bind=True",
            lambda: tasks.bound_info.delay(key("bound")),
        ),
        publish(
            "async", "async_double.delay(21)  # async def", lambda: tasks.async_double.delay(21)
        ),
    ]
    if _importable("example.django_tasks"):
        from example.django_tasks import record_task

        actions.append(
            publish(
                "djtask",
                "record_task.enqueue(key)  # django.tasks",
                lambda: record_task.enqueue(key("djtask")),
            )
        )
    if _importable("django_qstash.canvas"):
        actions.append(
            Action(
                "chain",
                "chain(math_add_task.s(2, 2), math_add_task.s(4), math_add_task.s(8)).delay()",
                start_chain,
            )
        )
    if _importable("django_qstash.schedules.models"):
        actions.append(
            Action(
                "cron",
                "TaskSchedule(cron='* * * * *', task_name='example.tasks.record')",
                lambda tour: start_schedule(tour, key("cron")),
            )
        )
    if _importable("upstash_workflow"):
        actions.append(
            Action(
                "workflow",
                "onboarding.trigger({'user': key})  # 3 steps, a 2 s sleep",
                lambda tour: start_workflow(tour, key("workflow")),
            )
        )
    return actions


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def start_chain(tour: Tour) -> None:
    """Celery's canvas: each step is published by QStash's callback of the step before, with
    the step's result prepended to the next one's arguments: (2 + 2) + 4, then + 8."""
    from django_qstash.canvas import chain
    from example.tasks import math_add_task

    add = math_add_task
    last = chain(add.s(2, 2), add.s(4), add.s(8)).delay()
    first = last.parent.parent  # .delay() returns the last step's result, as in Celery
    # Every step's task id is assigned now; the steps are found by it as QStash creates them.
    tour.chains[first.id] = "chain"
    tour.expected["chain"] = 3


def start_schedule(tour: Tour, key: str) -> None:
    """A cron schedule: saved in the database, pushed to QStash, fired by QStash every minute
    (every CRON_TICK seconds on the tour's dev server). Paused once it has run twice."""
    from django_qstash.schedules.models import TaskSchedule

    schedule = TaskSchedule.objects.create(
        name=f"tour {key}", cron="* * * * *", task_name="example.tasks.record", args=[key]
    )
    schedule.refresh_from_db()
    if schedule.sync_error:
        raise RuntimeError(f"the schedule did not reach QStash: {schedule.sync_error}")
    tour.schedules[schedule.schedule_id] = "cron"
    tour.expected["cron"] = 2
    tour.say(f"{tour.elapsed():6.2f}s  {'cron':<10} publish    schedule {schedule.schedule_id}")

    def pause_after_two_runs() -> bool:
        runs = [s for s in tour.steps if s.group == "cron"]
        if len([s for s in runs if s.done]) < 2:
            return False
        schedule.is_active = False
        schedule.save()
        schedule.refresh_from_db()
        tour.say(f"{tour.elapsed():6.2f}s  {'cron':<10} pause      schedule {schedule.schedule_id}")
        return True

    tour.settlers.append(pause_after_two_runs)


class Tour:
    """Run the actions, then follow every message through the dev server's log and the results
    table, until each has reached its final state."""

    def __init__(self, stack: Stack, say: Callable[[str], None], *, planned: int = 0) -> None:
        import httpx

        self.stack = stack
        self.say = say
        self.steps: list[Step] = []
        #: The least number of messages (steps) a group must reach: a chain's length, say.
        self.expected: dict[str, int] = {}
        #: Chain root message id -> group; schedule id -> group (to find their later messages).
        self.chains: dict[str, str] = {}
        self.schedules: dict[str, str] = {}
        #: Called on every poll until they return True (e.g. pause the schedule after two runs).
        self.settlers: list[Callable[[], bool]] = []
        #: Workflow runs the tour started, followed through the dev server's run log.
        self.workflow_runs: list[FollowedRun] = []
        self.started = time.monotonic()
        #: Actions not yet run: until they are, the tour is not done, even with nothing in flight.
        self.unpublished = planned
        self.seen_events: set[str] = set()
        self.http = httpx.Client(
            base_url=stack.qstash_url,
            headers={"Authorization": f"Bearer {stack.token}"},
            trust_env=False,
            timeout=10,
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, step: Step, source: str, state: str, detail: str = "") -> None:
        text = f"{self.elapsed():6.2f}s  {step.key:<10} {source:<7} {state:<10} {detail}"
        self.say(text.rstrip())

    def track(self, key: str, call: str, message_id: str) -> Step:
        step = Step(key, call, message_id)
        self.steps.append(step)
        self.line(step, "publish", "", f"{call} -> {message_id}")
        return step

    def run(self, actions: list[Action], redraw: Callable[[], None] = lambda: None) -> None:
        """Run the actions one by one, a moment apart, so that each can be followed."""
        self.unpublished = len(actions)
        for action in actions:
            action.run(self)
            self.unpublished -= 1
            pause = time.monotonic() + STEP_PAUSE
            while time.monotonic() < pause:
                self.poll()
                redraw()
                time.sleep(0.05)

    def discover(self, event: dict[str, Any]) -> Step | None:
        """A message the tour did not publish itself: a later step of a chain, or a cron run."""
        if event.get("state") != "CREATED":
            return None
        group = self.schedules.get(event.get("scheduleId") or "")
        body: dict[str, Any] = {}
        with suppress(ValueError):
            body = json.loads(base64.b64decode(event.get("body") or ""))
        if not isinstance(body, dict):
            return None
        task = str(body.get("task", "")).rsplit(".", 1)[-1]
        args = ", ".join(json.dumps(a) for a in body.get("args", []))
        if group:
            n = len([s for s in self.steps if s.group == group]) + 1
            return self.track(
                f"{group}.{n}", f"{task}({args})  # fired by QStash", event["messageId"]
            )
        options = body.get("options") or {}
        group = self.chains.get(str(options.get("task_id", "")))
        if group and "root_id" not in options:  # the chain's first step
            return self.track(f"{group}.1", f"{task}.s({args})", event["messageId"])
        group = self.chains.get(str(options.get("root_id", "")))
        if group:
            n = len([s for s in self.steps if s.group == group]) + 1
            return self.track(
                f"{group}.{n}", f"{task}({args})  # from the callback", event["messageId"]
            )
        return None

    def poll(self) -> None:
        from django_qstash.results.models import TaskResult

        by_id = {step.message_id: step for step in self.steps}
        response = self.http.get("/v2/events", params={"count": 1000})
        response.raise_for_status()
        for event in reversed(response.json()["events"]):
            identity = json.dumps(event, sort_keys=True)
            if identity in self.seen_events:
                continue
            step = by_id.get(event.get("messageId", ""))
            if step is None:
                step = self.discover(event)
                if step is None:
                    continue
                by_id[step.message_id] = step
            self.seen_events.add(identity)
            step.qstash = event["state"]
            detail = ""
            if event["state"] in ("RETRY", "FAILED", "DELIVERED") and event.get("responseStatus"):
                detail = f"HTTP {event['responseStatus']}"
            if event["state"] == "FAILED" and event.get("dlqId"):
                detail += f", dead-letter queue {event['dlqId']}"
            self.line(step, "qstash", event["state"], detail)

        for row in TaskResult.objects.filter(task_id__in=list(by_id)):
            step = by_id[row.task_id]
            result = describe_result(row)
            if (row.status, row.attempts, result) != (step.django, step.attempts, step.result):
                step.task_name = row.task_name
                step.django, step.attempts, step.result = row.status, row.attempts, result
                self.line(step, "django", row.status, f"attempt {row.attempts}: {result}")
        self.settlers = [settle for settle in self.settlers if not settle()]
        for run in self.workflow_runs:
            if not run.done:
                follow(self, run)

    def pending(self) -> list[str]:
        waiting = [step.key for step in self.steps if not step.done]
        for group, count in self.expected.items():
            if len([s for s in self.steps if s.group == group]) < count:
                waiting.append(f"{group} ({count} runs)")
        waiting += ["cron (pause)" for _ in self.settlers]
        waiting += [f"workflow {run.run_id}" for run in self.workflow_runs if not run.done]
        if self.unpublished:
            waiting.append(f"{self.unpublished} more to publish")
        return waiting

    def dead_letters(self) -> list[dict[str, Any]]:
        response = self.http.get("/v2/dlq")
        response.raise_for_status()
        return list(response.json()["messages"])


def describe_result(row: Any) -> str:
    """What a TaskResult row says the task returned (or raised), on one line."""
    if row.status == "FAILURE" or (row.status == "RETRY" and row.exception_type):
        return f"{row.exception_type.rsplit('.', 1)[-1]}: {row.exception_message}"
    if row.status == "SUCCESS":
        return json.dumps(row.result, sort_keys=True)
    if row.status == "PENDING":
        return "published, waiting for QStash"
    return ""


def wait_for(tour: Tour, stack: Stack, redraw: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + TOUR_TIMEOUT
    while True:
        tour.poll()
        redraw()
        if not tour.pending() or time.monotonic() > deadline:
            return
        for server in stack.servers:
            server.check_alive()
        time.sleep(0.1)
