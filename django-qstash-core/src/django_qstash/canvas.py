"""Celery's canvas over QStash: signatures, ``chain`` and ``group``.

* A :class:`Signature` is a task name with arguments and options. Like Celery's, it is a
  ``dict`` (``task``, ``args``, ``kwargs``, ``options``, ``subtask_type``, ``immutable``), so
  it travels inside a message as plain JSON.
* ``link``/``link_error`` signatures are kept in the message of the task they follow, and that
  message is published with ``Upstash-Callback`` / ``Upstash-Failure-Callback`` pointing at the
  webhook (with a query marker). When QStash calls back, :func:`continue_from_callback` reads
  the original message out of the callback, and publishes the linked signatures: on success
  with the task's result prepended to their arguments (unless immutable, ``.si()``), on final
  failure with the failed task's id (Celery's classic errback form).
* ``chain(a, b, c)`` is ``a`` linked to ``chain(b, c)``: each step is published by the callback
  of the step before, so a chain needs no process waiting for it.
* ``group([...])`` publishes all its members in one QStash batch request.
* ``chord`` is not supported: see :class:`chord`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_qstash import envelope, publisher
from django_qstash.conf import conf
from django_qstash.exceptions import CanvasNotSupported, MalformedMessage
from django_qstash.registry import registry
from django_qstash.result import AsyncResult, EagerResult, GroupResult

if TYPE_CHECKING:
    from django_qstash.task import PreparedMessage, Task

#: Query strings of the webhook URL QStash's callbacks are sent to (covered by the signature).
LINK_MARKER = "django_qstash=link"
LINK_ERROR_MARKER = "django_qstash=link_error"
CALLBACK_MARKERS = frozenset({LINK_MARKER, LINK_ERROR_MARKER})


class Signature(dict[str, Any]):
    """A task call to make later: ``add.s(2)``, ``add.si(2, 2)``, ``signature("app.add")``."""

    def __init__(
        self,
        task: Task[..., Any] | str,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        *,
        immutable: bool = False,
        subtask_type: str | None = None,
    ) -> None:
        name = task if isinstance(task, str) else task.name
        super().__init__(
            task=name,
            args=list(args or ()),
            kwargs=dict(kwargs or {}),
            options=dict(options or {}),
            subtask_type=subtask_type,
            immutable=immutable,
        )
        self._task = None if isinstance(task, str) else task

    # ------------------------------------------------------------------------ fields

    @property
    def task(self) -> str:
        return str(self["task"])

    name = task

    @property
    def args(self) -> list[Any]:
        return list(self["args"])

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self["kwargs"])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self["options"])

    @property
    def immutable(self) -> bool:
        return bool(self["immutable"])

    @property
    def subtask_type(self) -> str | None:
        value = self.get("subtask_type")
        return None if value is None else str(value)

    @property
    def type(self) -> Task[..., Any]:
        """The task object, found in the registry by name."""
        if self._task is None:
            self._task = registry.get(self.task)
        return self._task

    def __repr__(self) -> str:
        arguments = [repr(a) for a in self["args"]]
        arguments += [f"{k}={v!r}" for k, v in self["kwargs"].items()]
        marker = "si" if self.immutable else "s"
        return f"{self.task}.{marker}({', '.join(arguments)})"

    # ------------------------------------------------------------------------ building

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """A copy with more arguments (prepended, unless immutable) and options."""
        new_args, new_kwargs, new_options = self._merge(args, kwargs, options)
        return Signature(
            self._task or self.task,
            new_args,
            new_kwargs,
            new_options,
            immutable=self.immutable,
        )

    def set(self, **options: Any) -> Signature:
        self["options"] = {**self["options"], **options}
        return self

    def set_immutable(self, immutable: bool) -> None:
        self["immutable"] = immutable

    def link(self, callback: Signature) -> Signature:
        """Run ``callback`` with this task's result after it succeeds; returns ``callback``."""
        self["options"]["link"] = [*signature_list(self["options"].get("link")), callback]
        return callback

    def link_error(self, errback: Signature) -> Signature:
        """Run ``errback`` with this task's id after it failed for good; returns ``errback``."""
        current = signature_list(self["options"].get("link_error"))
        self["options"]["link_error"] = [*current, errback]
        return errback

    on_error = link_error

    def __or__(self, other: Signature) -> chain:  # type: ignore[override]
        return chain(self, other)

    def _merge(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        merged_options = {**self["options"], **options}
        if self.immutable:
            return list(self["args"]), dict(self["kwargs"]), merged_options
        return (
            [*(args or ()), *self["args"]],
            {**self["kwargs"], **(kwargs or {})},
            merged_options,
        )

    # ------------------------------------------------------------------------ calling

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task inline in this process."""
        call_args, call_kwargs, _ = self._merge(args, kwargs, {})
        return self.type(*call_args, **call_kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Any:
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Publish the task; ``args`` come before the signature's own (partial application)."""
        call_args, call_kwargs, call_options = self._merge(args, kwargs, options)
        return self.type.apply_async(call_args, call_kwargs, **call_options)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run the task eagerly (see ``Task.apply``)."""
        call_args, call_kwargs, call_options = self._merge(args, kwargs, options)
        return self.type.apply(call_args, call_kwargs, **call_options)

    def _prepared(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> list[PreparedMessage]:
        """The messages publishing this signature takes (one), for a batch."""
        call_args, call_kwargs, call_options = self._merge(args, kwargs, options)
        task = self.type
        task.bind_arguments(call_args, call_kwargs)
        return [task._prepare_call(call_args, call_kwargs, call_options)]


# ---------------------------------------------------------------------------------- chain


class chain(Signature):
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
            step = _require_signature(task)
            if isinstance(step, chain):
                steps.extend(step.tasks)
            else:
                steps.append(step)
        for position, step in enumerate(steps[:-1]):
            if isinstance(step, group):
                raise CanvasNotSupported(
                    f"chain step {position + 1} is a group followed by more tasks, which is a "
                    "chord: django-qstash does not support chords (see django_qstash.canvas."
                    "chord). A group can be the last step of a chain."
                )
        super().__init__("celery.chain", (), {"tasks": steps}, options, subtask_type="chain")

    @property
    def tasks(self) -> list[Signature]:
        return [_require_signature(task) for task in self["kwargs"]["tasks"]]

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

    def _prepared(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> list[PreparedMessage]:
        first, first_options = self._first_step(args, kwargs, options)
        return first._prepared(None, None, first_options)


# ---------------------------------------------------------------------------------- group


class group(Signature):
    """Tasks run in parallel: ``group([a.s(1), a.s(2)]).delay()`` is one QStash batch request.

    Returns a :class:`~django_qstash.result.GroupResult` of the members' results. In a chain,
    each member receives the result of the step before.
    """

    def __init__(self, *tasks: Any, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], Mapping):
            tasks = tuple(tasks[0])
        members = [_require_signature(task) for task in tasks]
        super().__init__("celery.group", (), {"tasks": members}, options, subtask_type="group")

    @property
    def tasks(self) -> list[Signature]:
        return [_require_signature(task) for task in self["kwargs"]["tasks"]]

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
        prepared = self._prepared(args, kwargs, {**merged, "group_id": group_id})
        if not prepared:
            return GroupResult(group_id, [])
        message_ids = publisher.publish_batch([(p.body, p.publish) for p in prepared])
        results = [
            p.task._published(message_id, p)
            for message_id, p in zip(message_ids, prepared, strict=True)
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

    def _prepared(
        self,
        args: Sequence[Any] | None,
        kwargs: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> list[PreparedMessage]:
        merged = {**self["options"], **options}
        deduplication_id = merged.pop("deduplication_id", None)
        prepared: list[PreparedMessage] = []
        for index, task in enumerate(self.tasks):
            member_options = dict(merged)
            if deduplication_id is not None:
                member_options["deduplication_id"] = f"{deduplication_id}.{index}"
            prepared.extend(task._prepared(args, kwargs, member_options))
        return prepared


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


# ---------------------------------------------------------------------------------- helpers


def signature(
    task: Task[..., Any] | str | Mapping[str, Any],
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> Signature:
    """``signature("app.tasks.add", args=(2, 2))``, or a signature from its dict form."""
    if isinstance(task, Mapping):
        return _require_signature(task)
    immutable = bool(options.pop("immutable", False))
    return Signature(task, args, kwargs, options, immutable=immutable)


def maybe_signature(value: Any) -> Signature | None:
    """A :class:`Signature` (or chain/group) from a signature, a task, or its dict form."""
    if value is None:
        return None
    return _require_signature(value)


def _require_signature(value: Any) -> Signature:
    if isinstance(value, Signature):
        return value
    if isinstance(value, Mapping):
        kind = value.get("subtask_type")
        options = dict(value.get("options") or {})
        if kind == "chain":
            return chain(*value["kwargs"]["tasks"], **options)
        if kind == "group":
            return group(*value["kwargs"]["tasks"], **options)
        if not isinstance(value.get("task"), str):
            raise TypeError(f"not a signature: {value!r}")
        return Signature(
            value["task"],
            value.get("args"),
            value.get("kwargs"),
            options,
            immutable=bool(value.get("immutable", False)),
        )
    if hasattr(value, "s") and hasattr(value, "name"):
        return Signature(value)  # a task: link=other_task works as in Celery
    raise TypeError(f"expected a signature (task.s(...)), got {type(value).__name__}: {value!r}")


def signature_list(value: Any) -> list[Signature]:
    """``link=``/``link_error=`` as a list of signatures (one, or a list of them)."""
    if value is None:
        return []
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        return [_require_signature(value)]
    return [_require_signature(item) for item in value]


# ---------------------------------------------------------------------------------- callbacks


class CallbackIgnored(Exception):
    """The callback needs nothing done (a failed attempt, a retry, a duplicate)."""


def continue_from_callback(marker: str, body: bytes) -> list[str]:
    """Publish what follows a task, from the body of QStash's (failure) callback (§3.3).

    Returns the published message ids. Raises :class:`CallbackIgnored` when there is nothing
    to do, :class:`MalformedMessage` when the callback cannot be read, and whatever publishing
    raises (the webhook answers so QStash retries; deduplication ids derived from the source
    message keep a retried callback from publishing twice).
    """
    try:
        data = json.loads(body)
        source_id = str(data.get("sourceMessageId") or "")
        source = envelope.decode(base64.b64decode(data.get("sourceBody") or ""))
    except MalformedMessage:
        raise
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise MalformedMessage(f"not a QStash callback body: {exc}") from None

    task_id = str(source.options.get("task_id") or source_id)
    if marker == LINK_MARKER:
        status = data.get("status")
        if not isinstance(status, int) or not 200 <= status < 300:
            raise CallbackIgnored(f"the attempt answered {status}; QStash handles retries")
        try:
            answer = json.loads(base64.b64decode(data.get("body") or ""))
        except (ValueError, binascii.Error) as exc:
            raise MalformedMessage(f"the callback's response body is not JSON: {exc}") from None
        # "duplicate" with a result: a redelivery after QStash missed the first answer.
        if not isinstance(answer, dict) or not (
            answer.get("status") == "success"
            or (answer.get("status") == "duplicate" and "result" in answer)
        ):
            state = answer.get("status") if isinstance(answer, dict) else None
            raise CallbackIgnored(f"the task did not complete here ({state!r})")
        signatures = signature_list(source.options.get("link"))
        arguments: tuple[Any, ...] = (answer.get("result"),)
        kind = "link"
    else:
        signatures = signature_list(source.options.get("link_error"))
        arguments = (task_id,)
        kind = "link_error"
    if not signatures:
        raise CallbackIgnored(f"the message has no {kind}")

    root_id = str(source.options.get("root_id") or task_id)
    published: list[str] = []
    for index, follower in enumerate(signatures):
        options: dict[str, Any] = {"parent_id": task_id, "root_id": root_id}
        own = follower["options"]
        if "task_id" not in own and "deduplication_id" not in own:
            options["deduplication_id"] = f"{source_id or task_id}.{kind}.{index}"
        outcome = follower.apply_async(arguments, **options)
        published.extend(_ids(outcome))
    return published


def _ids(outcome: Any) -> list[str]:
    if isinstance(outcome, GroupResult):
        return [result.id for result in outcome.results]
    if isinstance(outcome, (AsyncResult, EagerResult)):
        return [outcome.id]
    return []
