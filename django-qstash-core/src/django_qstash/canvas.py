"""Celery's canvas over QStash: ``chain`` and ``group`` (signatures are in ``signatures``).

* ``link``/``link_error`` signatures are kept in the message of the task they follow, and that
  message is published with ``Upstash-Callback`` / ``Upstash-Failure-Callback`` pointing at the
  webhook (with a query marker). When QStash calls back, ``callbacks.continue_from_callback``
  reads the original message out of the callback and publishes the linked signatures: on
  success with the task's result prepended to their arguments (unless immutable, ``.si()``),
  on final failure with the failed task's id (Celery's classic errback form).
* ``chain(a, b, c)`` is ``a`` linked to ``chain(b, c)``: each step is published by the callback
  of the step before, so a chain needs no process waiting for it.
* ``group([...])`` publishes all its members in one QStash batch request.
* ``chord`` is not supported: see :class:`chord`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_qstash import pipeline
from django_qstash.conf import conf
from django_qstash.exceptions import CanvasNotSupported
from django_qstash.result import AsyncResult, GroupResult
from django_qstash.signatures import (
    CALLBACK_MARKERS,
    LINK_ERROR_MARKER,
    LINK_MARKER,
    Signature,
    as_signature,
    maybe_signature,
    signature,
    signature_list,
)

if TYPE_CHECKING:
    from django_qstash.messages import PreparedMessage
    from django_qstash.task import Task

__all__ = [
    "CALLBACK_MARKERS",
    "LINK_ERROR_MARKER",
    "LINK_MARKER",
    "Signature",
    "chain",
    "chord",
    "group",
    "maybe_signature",
    "signature",
    "signature_list",
]


# ---------------------------------------------------------------------------------- chain


class chain(Signature, kind="chain"):
    """Tasks run one after another, each receiving the result of the one before.

    ``chain(a.s(1), b.s(), c.s()).delay()`` publishes ``a`` now; ``b`` is published by the
    callback of ``a`` (with ``a``'s result), and so on. ``apply_async()`` returns the result of
    the first task: the later ones get their ids only when they are published.
    """

    def __init__(self, *tasks: Any, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], Mapping):
            tasks = tuple(tasks[0])
        steps: list[Signature] = []
        for task in tasks:
            step = as_signature(task)
            if isinstance(step, chain):
                steps.extend(step.tasks)
            else:
                steps.append(step)
        for position, step in enumerate(steps[:-1]):
            if step.subtask_type == "group":
                raise CanvasNotSupported(
                    f"chain step {position + 1} is a group followed by more tasks, which is a "
                    "chord: django-qstash does not support chords (see django_qstash.canvas."
                    "chord). A group can be the last step of a chain."
                )
        super().__init__("celery.chain", (), {"tasks": steps}, options, subtask_type="chain")

    @property
    def tasks(self) -> list[Signature]:
        return [as_signature(task) for task in self["kwargs"]["tasks"]]

    def __repr__(self) -> str:
        return " | ".join(repr(task) for task in self.tasks) or "chain()"

    def __or__(self, other: Signature) -> chain:  # type: ignore[override]
        return chain(*self.tasks, other, **self.options)

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        tasks = self.tasks
        if tasks and (args or kwargs):
            tasks[0] = tasks[0].clone(args, kwargs)
        return chain(*tasks, **{**self["options"], **options})

    def _first_step(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> tuple[Signature, dict[str, Any]]:
        """The first task, and the options that link it to the rest of the chain."""
        tasks = self.tasks
        if not tasks:
            raise ValueError("an empty chain has nothing to run")
        merged = {**self["options"], **options}
        link = signature_list(merged.pop("link", None))
        link_error = signature_list(merged.pop("link_error", None))
        rest = tasks[1:]
        if rest:
            after: Signature = rest[0] if len(rest) == 1 else chain(*rest)
            # The chain's own link runs after its last task; link_error after any of them.
            extra: dict[str, Any] = {}
            if link:
                extra["link"] = [*signature_list(after["options"].get("link")), *link]
            if link_error:
                extra["link_error"] = [
                    *signature_list(after["options"].get("link_error")),
                    *link_error,
                ]
            if extra:
                after = after.clone(**extra)
            link = [after]
        first = tasks[0].clone(args, kwargs)
        options_out = dict(merged)
        if link:
            options_out["link"] = [*signature_list(first["options"].get("link")), *link]
        if link_error:
            options_out["link_error"] = [
                *signature_list(first["options"].get("link_error")),
                *link_error,
            ]
        return first, options_out

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Publish the first task, linked to the rest; returns the first task's result."""
        if conf.ALWAYS_EAGER:
            return self.apply(args, kwargs, **options)
        first, first_options = self._first_step(args, kwargs, options)
        return first.apply_async(**first_options)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run every step now, in order; returns the last result (``.parent`` links back)."""
        merged = {**self["options"], **options}
        link = merged.pop("link", None)
        result: Any = None
        call_args: Sequence[Any] | None = args
        call_kwargs: Mapping[str, Any] | None = kwargs
        for step in self.tasks:
            current = step.apply(call_args, call_kwargs, **merged)
            current.parent = result
            result = current
            if current.failed():
                return result
            call_args, call_kwargs = (current.get(propagate=False),), None
        for callback in signature_list(link):
            callback.apply(call_args)
        return result


# ---------------------------------------------------------------------------------- group


class group(Signature, kind="group"):
    """Tasks run in parallel: ``group([a.s(1), a.s(2)]).delay()`` is one QStash batch request.

    Returns a :class:`~django_qstash.result.GroupResult` of the members' results. In a chain,
    each member receives the result of the step before.
    """

    def __init__(self, *tasks: Any, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], Mapping):
            tasks = tuple(tasks[0])
        members = [as_signature(task) for task in tasks]
        super().__init__("celery.group", (), {"tasks": members}, options, subtask_type="group")

    @property
    def tasks(self) -> list[Signature]:
        return [as_signature(task) for task in self["kwargs"]["tasks"]]

    def __repr__(self) -> str:
        return f"group([{', '.join(repr(task) for task in self.tasks)}])"

    def __len__(self) -> int:
        return len(self["kwargs"]["tasks"])

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        tasks = [task.clone(args, kwargs) for task in self.tasks]
        return group(tasks, **{**self["options"], **options})

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> GroupResult:
        """Publish every member in one batch request."""
        if conf.ALWAYS_EAGER:
            return self.apply(args, kwargs, **options)
        merged = {**self["options"], **options}
        group_id = str(merged.pop("group_id", None) or uuid.uuid4().hex)
        calls = _prepared(self, args, kwargs, {**merged, "group_id": group_id})
        if not calls:
            return GroupResult(group_id, [])
        message_ids = pipeline.dispatch(
            [prepared for _, prepared in calls], [task for task, _ in calls], batch=True
        )
        results = [
            AsyncResult(message_id, task_name=task.name)
            for message_id, (task, _) in zip(message_ids, calls, strict=True)
        ]
        return GroupResult(group_id, results)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> GroupResult:
        merged = {**self["options"], **options}
        group_id = str(merged.pop("group_id", None) or uuid.uuid4().hex)
        results = [task.apply(args, kwargs, group_id=group_id, **merged) for task in self.tasks]
        return GroupResult(group_id, results)


class chord:
    """Not supported: Celery's ``chord(header)(body)`` needs a join.

    The body must run once, after every header task finished, with all their results. That
    takes a shared counter (Celery's result backends keep one, or poll with a
    ``chord_unlock`` task). QStash has no join primitive and core has no database, so
    django-qstash would need the results app *and* a polling message per second per chord.
    Rather than ship something that silently costs messages or only works in eager mode, a
    chord raises :class:`~django_qstash.exceptions.CanvasNotSupported`. Alternatives: put the
    aggregation in a task that takes the ids and checks ``AsyncResult``s (retrying itself
    until they are ready), or make the group the last step of a chain.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise CanvasNotSupported(
            "django-qstash does not support chord: the body would need a join over the header "
            "tasks' results, which QStash cannot do. See django_qstash.canvas.chord for "
            "alternatives."
        )


# ---------------------------------------------------------------------------------- batches


def _prepared(
    signature: Signature,
    args: Sequence[Any] | None,
    kwargs: Mapping[str, Any] | None,
    options: Mapping[str, Any],
) -> list[tuple[Task[..., Any], PreparedMessage]]:
    """The messages publishing ``signature`` takes, with their tasks (for a group's batch)."""
    if isinstance(signature, group):
        merged = {**signature["options"], **options}
        deduplication_id = merged.pop("deduplication_id", None)
        calls: list[tuple[Task[..., Any], PreparedMessage]] = []
        for index, member in enumerate(signature.tasks):
            member_options = dict(merged)
            if deduplication_id is not None:
                member_options["deduplication_id"] = f"{deduplication_id}.{index}"
            calls.extend(_prepared(member, args, kwargs, member_options))
        return calls
    if isinstance(signature, chain):
        first, first_options = signature._first_step(args, kwargs, options)
        return _prepared(first, None, None, first_options)
    call_args, call_kwargs, call_options = signature._merge(args, kwargs, options)
    task = signature.type
    task.bind_arguments(call_args, call_kwargs)
    return [(task, pipeline.prepare(task, call_args, call_kwargs, call_options))]
