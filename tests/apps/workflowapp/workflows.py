"""Workflows the workflow tests drive, sync and async, through a live server.

The payload says what to do: ``key`` (tags every side effect), ``sleep`` (seconds between step 1
and step 2), ``call_url`` (a third party to call before step 2), ``fail_times`` (step 2 raises
that many times first), ``hold`` (step 2's first attempt blocks that many seconds before it finishes).
Each finished step leaves one ``example.models.TaskRun`` row: ``task="wf:<step>"``.

Before their first step the workflows read the payload with ``.get``: the SDK also runs the
function (stopping at the first step) for the callback of a ``context.call``, whose payload is
the callback's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django_qstash.workflows import workflow
from example.models import TaskRun


def record(step: str, key: str, value: Any = None) -> str:
    TaskRun.objects.create(task=f"wf:{step}", key=key, value=value)
    return f"{step} done"


def step2(payload: dict[str, Any]) -> str:
    key = payload["key"]
    record("step2-attempt", key)
    attempts = TaskRun.objects.filter(task="wf:step2-attempt", key=key).count()
    if attempts <= payload.get("fail_times", 0):
        raise RuntimeError(f"step 2 fails on attempt {attempts}")
    if payload.get("hold") and attempts == 1:
        time.sleep(payload["hold"])
    return record("step2", key)


@workflow(name="tests.scenario", retries=5)
def scenario(context: Any) -> None:
    payload = context.request_payload
    key = payload.get("key")
    first = context.run("step1", lambda: record("step1", key))
    if payload.get("sleep"):
        context.sleep("pause", payload["sleep"])
    if payload.get("call_url"):
        response = context.call(
            "third-party", url=payload["call_url"], method="POST", body={"key": key}
        )
        context.run(
            "record-call",
            lambda: record("call", key, {"status": response.status, "body": response.body}),
        )
    second = context.run("step2", lambda: step2(payload))
    context.run("step3", lambda: record("step3", key, [first, second]))


async def arecord(step: str, key: str, value: Any = None) -> str:
    await TaskRun.objects.acreate(task=f"wf:{step}", key=key, value=value)
    return f"{step} done"


async def astep2(payload: dict[str, Any]) -> str:
    key = payload["key"]
    await arecord("step2-attempt", key)
    attempts = await TaskRun.objects.filter(task="wf:step2-attempt", key=key).acount()
    if attempts <= payload.get("fail_times", 0):
        raise RuntimeError(f"step 2 fails on attempt {attempts}")
    if payload.get("hold") and attempts == 1:
        await asyncio.sleep(payload["hold"])
    return await arecord("step2", key)


@workflow(name="tests.scenario_async", retries=5)
async def scenario_async(context: Any) -> None:
    payload = context.request_payload
    key = payload.get("key")

    async def step1() -> str:
        return await arecord("step1", key)

    first = await context.run("step1", step1)
    if payload.get("sleep"):
        await context.sleep("pause", payload["sleep"])
    if payload.get("call_url"):
        response = await context.call(
            "third-party", url=payload["call_url"], method="POST", body={"key": key}
        )

        async def record_call() -> str:
            return await arecord("call", key, {"status": response.status, "body": response.body})

        await context.run("record-call", record_call)

    async def second_step() -> str:
        return await astep2(payload)

    second = await context.run("step2", second_step)

    async def step3() -> str:
        return await arecord("step3", key, [first, second])

    await context.run("step3", step3)


def on_doomed_failure(context: Any, status: int, response: str, headers: dict[str, str]) -> None:
    record("failure", context.request_payload["key"], {"status": status, "response": response})


@workflow(name="tests.doomed", retries=1, failure_function=on_doomed_failure)
def doomed(context: Any) -> None:
    key = context.request_payload["key"]

    def attempt() -> None:
        record("doomed-attempt", key)
        raise RuntimeError("this step never succeeds")

    context.run("attempt", attempt)


async def on_doomed_failure_async(
    context: Any, status: int, response: str, headers: dict[str, str]
) -> None:
    await arecord(
        "failure", context.request_payload["key"], {"status": status, "response": response}
    )


@workflow(name="tests.doomed_async", retries=1, failure_function=on_doomed_failure_async)
async def doomed_async(context: Any) -> None:
    key = context.request_payload["key"]

    async def attempt() -> None:
        await arecord("doomed-attempt", key)
        raise RuntimeError("this step never succeeds")

    await context.run("attempt", attempt)


# The SDK's documented Flask examples, rewritten for Django (registered with the rest).
from tests.apps.workflowapp import sdk_examples  # noqa: E402, F401
