"""How a canvas becomes messages: task ids for every step, and a group's batch of messages.

The canvas classes (``chain``, ``group``, ``chord`` in ``canvas``) use these; they tell the kinds
apart by ``subtask_type`` and build them through the signature registry, so this module sits
below the canvas and imports nothing of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from django_qstash import pipeline
from django_qstash.exceptions import CanvasNotSupported
from django_qstash.result import AsyncResult, GroupResult
from django_qstash.signatures import Signature, signature_class

if TYPE_CHECKING:
    from django_qstash.messages import PreparedMessage
    from django_qstash.task import Task

#: A task with the message that publishes one call of it.
Call = tuple["Task[..., Any]", "PreparedMessage"]

CANVAS_KINDS = ("chain", "group", "chord")


def with_ids(
    steps: list[Signature], last_id: str | None
) -> tuple[list[Signature], AsyncResult | GroupResult]:
    """The steps, each with its task id (kept when it has one), and the last step's result,
    whose ``.parent`` chain leads back to the first."""
    numbered_steps: list[Signature] = []
    result: AsyncResult | GroupResult | None = None
    current: AsyncResult | GroupResult
    for position, step in enumerate(steps):
        wanted = last_id if position == len(steps) - 1 else None
        if step.subtask_type == "chord":
            step, current = cast(Any, step).numbered(wanted)
        elif step.subtask_type == "group":
            group_id = str(wanted or step["options"].get("group_id") or uuid.uuid4().hex)
            members = [numbered(member, None) for member in cast(Any, step).tasks]
            step = signature_class("group")(members, **{**step["options"], "group_id": group_id})
            current = GroupResult(group_id, [result_of(member) for member in members])
        else:
            step = numbered(step, wanted)
            current = result_of(step)
        current.parent = result
        result = current
        numbered_steps.append(step)
    if result is None:
        raise ValueError("an empty chain has nothing to run")
    return numbered_steps, result


def numbered(step: Signature, task_id: str | None) -> Signature:
    """One task's signature with its task id (``task_id``, the one it has, or a new one)."""
    if step.subtask_type in CANVAS_KINDS:
        raise CanvasNotSupported(
            f"{step.subtask_type} inside a group or chord of a chain is not supported"
        )
    return step.clone(task_id=task_id or step["options"].get("task_id") or str(uuid.uuid4()))


def result_of(step: Signature) -> AsyncResult:
    return AsyncResult(str(step["options"]["task_id"]), task_name=step.task)


def group_result(group_id: str, calls: list[Call], message_ids: list[str]) -> GroupResult:
    results = [
        AsyncResult(message_id, task_name=task.name)
        for message_id, (task, _) in zip(message_ids, calls, strict=True)
    ]
    return GroupResult(group_id, results)


def prepared(
    signature: Signature,
    args: Sequence[Any] | None,
    kwargs: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> list[Call]:
    """The messages publishing ``signature`` takes, with their tasks (for a group's batch)."""
    if signature.subtask_type == "group":
        merged = {**signature["options"], **options}
        deduplication_id = merged.pop("deduplication_id", None)
        calls: list[Call] = []
        for index, member in enumerate(cast(Any, signature).tasks):
            member_options = dict(merged)
            if deduplication_id is not None:
                member_options["deduplication_id"] = f"{deduplication_id}.{index}"
            calls.extend(prepared(member, args, kwargs, member_options))
        return calls
    if signature.subtask_type == "chain":
        first, first_options = cast(Any, signature)._first_step(args, kwargs, options)
        return prepared(first, None, None, first_options)
    call_args, call_kwargs, call_options = signature._merge(args, kwargs, options)
    task = signature.type
    task.bind_arguments(call_args, call_kwargs)
    return [(task, pipeline.prepare(task, call_args, call_kwargs, call_options))]
