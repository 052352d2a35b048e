"""Celery's canvas over QStash: ``chain``, ``group`` and ``chord`` (signatures: ``signatures``).

``link``/``link_error`` ride on QStash's (failure) callbacks to the webhook (see ``callbacks``),
so ``chain(a, b, c)`` is ``a`` linked to ``chain(b, c)`` and needs no process waiting for it. A
``group`` is one batch request; a ``chord`` needs the results app's counter (see ``chords``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from django_qstash import canvas_steps, pipeline
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
from django_qstash.store_registry import get_chord_store

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
        # As Celery: a group followed by a task is a chord (``group(...) | task``).
        folded: list[Signature] = []
        for step in steps:
            if folded and isinstance(folded[-1], group):
                step = chord(folded.pop(), step)
            folded.append(step)
        steps = folded
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
        """Publish the first task, linked to the rest; returns the last task's result.

        As in Celery, every step gets its task id now (``task_id=`` names the last one), so
        the result of the last step exists before it is published and its ``.parent`` links
        lead back to the first step's.
        """
        if conf.ALWAYS_EAGER:
            return self.apply(args, kwargs, **options)
        steps, last = canvas_steps.with_ids(self.tasks, options.pop("task_id", None))
        numbered = chain(*steps, **self["options"])
        first, first_options = numbered._first_step(args, kwargs, options)
        first.apply_async(**first_options)
        return last

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """:meth:`apply_async` for async code (the first task is published on the loop); returns
        the last task's result, as :meth:`apply_async` does."""
        if conf.ALWAYS_EAGER:
            return await sync_to_async(self.apply)(args, kwargs, **options)
        steps, last = canvas_steps.with_ids(self.tasks, options.pop("task_id", None))
        numbered = chain(*steps, **self["options"])
        first, first_options = numbered._first_step(args, kwargs, options)
        await first.aapply_async(**first_options)
        return last

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

    def __or__(self, other: Signature) -> Signature:  # type: ignore[override]
        """``group(...) | task`` is a chord, as in Celery."""
        if isinstance(other, (chain, group)):
            return chain(self, other)
        return chord(self, other)

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
        group_id, calls = self._calls(args, kwargs, options)
        if not calls:
            return canvas_steps.group_result(group_id, calls, [])
        message_ids = pipeline.dispatch(
            [prepared for _, prepared in calls], [task for task, _ in calls], batch=True
        )
        return canvas_steps.group_result(group_id, calls, message_ids)

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> GroupResult:
        """:meth:`apply_async` for async code: one batch request on the event loop."""
        if conf.ALWAYS_EAGER:
            result: GroupResult = await sync_to_async(self.apply)(args, kwargs, **options)
            return result
        group_id, calls = self._calls(args, kwargs, options)
        if not calls:
            return canvas_steps.group_result(group_id, calls, [])
        message_ids = await pipeline.adispatch(
            [prepared for _, prepared in calls], [task for task, _ in calls], batch=True
        )
        return canvas_steps.group_result(group_id, calls, message_ids)

    def _calls(
        self, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: Any
    ) -> tuple[str, list[tuple[Task[..., Any], PreparedMessage]]]:
        merged = {**self["options"], **options}
        group_id = str(merged.pop("group_id", None) or uuid.uuid4().hex)
        return group_id, canvas_steps.prepared(self, args, kwargs, {**merged, "group_id": group_id})

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


class chord(Signature, kind="chord"):
    """``chord(header)(body)``: the body runs once, with the list of the header's results.

    Needs the results app: each header task's outcome counts toward the chord in one atomic
    database update (see ``chords``), and the delivery that completes the count publishes the
    body, once however QStash delivers. A header task that fails for good fails the chord: the
    body's ``link_error`` runs with that task's id. Returns the body's result, whose
    ``.parent`` is the header's :class:`~django_qstash.result.GroupResult`.
    """

    def __init__(self, header: Any, body: Any = None, **options: Any) -> None:
        if isinstance(header, Mapping):
            header = as_signature(header)  # the dict form, read back from a message
        members = header.tasks if isinstance(header, group) else header
        tasks: list[Any] = [group(members)]
        if body is not None:
            tasks.append(as_signature(body))
        super().__init__("celery.chord", (), {"tasks": tasks}, options, subtask_type="chord")

    @property
    def tasks(self) -> list[Signature]:
        return [as_signature(task) for task in self["kwargs"]["tasks"]]

    @property
    def header(self) -> group:
        header = self.tasks[0]
        assert isinstance(header, group)
        return header

    @property
    def body(self) -> Signature | None:
        tasks = self.tasks
        return tasks[1] if len(tasks) > 1 else None

    def __repr__(self) -> str:
        return f"chord({self.header!r}, {self.body!r})"

    def __call__(self, body: Any = None, **options: Any) -> Any:
        """``chord(header)(body)``: publish (or, eagerly, run) with this body."""
        return chord(self.header, body or self.body, **{**self["options"], **options}).delay()

    def clone(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        header = self.header.clone(args, kwargs) if (args or kwargs) else self.header
        return chord(header, self.body, **{**self["options"], **options})

    def numbered(self, body_id: str | None = None) -> tuple[chord, AsyncResult]:
        """This chord with every task id assigned, and the body's result (its parent the
        header's)."""
        body = self._body()
        if isinstance(body, (chain, group, chord)):
            raise CanvasNotSupported("a chord's body must be one task's signature")
        members = [canvas_steps.numbered(member, None) for member in self.header.tasks]
        body = canvas_steps.numbered(body, body_id)
        group_id = str(self["options"].get("group_id") or uuid.uuid4().hex)
        result = canvas_steps.result_of(body)
        result.parent = GroupResult(
            group_id, [canvas_steps.result_of(member) for member in members]
        )
        options = {**self["options"], "group_id": group_id}
        return chord(group(members), body, **options), result

    def _body(self) -> Signature:
        body = self.body
        if body is None:
            raise TypeError("a chord needs a body: chord(header)(body)")
        return body

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Start the chord's counter, then publish the header in one batch."""
        if conf.ALWAYS_EAGER:
            return self.apply(args, kwargs, **options)
        store = get_chord_store()
        if store is None:
            raise CanvasNotSupported(
                "chord needs the results app to count the header's outcomes: add "
                "'django_qstash.results' to INSTALLED_APPS (pip install django-qstash-results) "
                "and migrate."
            )
        numbered, result = self.numbered(options.pop("task_id", None))
        assert isinstance(result.parent, GroupResult)
        chord_id = result.parent.id
        header = numbered.header.tasks
        body = numbered._body()
        # A chain's link (what follows the chord) and link_error belong to the body.
        links = {
            key: [*signature_list(body["options"].get(key)), *signature_list(options.pop(key))]
            for key in ("link", "link_error")
            if options.get(key)
        }
        if links:
            body = body.clone(None, None, **links)
        if not header:
            body.apply_async(([],), **options)
            return result
        store.chord_started(chord_id, len(header), body)
        members = [
            member.clone(chord={"id": chord_id, "index": index})
            for index, member in enumerate(header)
        ]
        group(members).apply_async(args, kwargs, **{**options, "group_id": chord_id})
        return result

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run the header now, then the body with its results (or the body's link_error)."""
        body = self._body()
        header = self.header.apply(args, kwargs, **options)
        failed = next((result for result in header.results if result.failed()), None)
        if failed is not None:
            for errback in signature_list(body["options"].get("link_error")):
                errback.apply((failed.id,))
            failed.parent = header
            return failed
        result = body.apply(([result.result for result in header.results],))
        result.parent = header
        return result
