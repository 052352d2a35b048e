"""Celery's signatures: a task call to make later (``add.s(2)``), and their dict form.

A :class:`Signature` is a task name with arguments and options. Like Celery's, it is a ``dict``
(``task``, ``args``, ``kwargs``, ``options``, ``subtask_type``, ``immutable``), so it travels
inside a message as plain JSON. ``chain`` and ``group`` (in ``canvas``) are signatures too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_qstash.registry import registry

if TYPE_CHECKING:
    from django_qstash.task import Task

#: Query strings of the webhook URL QStash's callbacks are sent to (covered by the signature).
LINK_MARKER = "django_qstash=link"
LINK_ERROR_MARKER = "django_qstash=link_error"
CALLBACK_MARKERS = frozenset({LINK_MARKER, LINK_ERROR_MARKER})

#: Signature subclasses by ``subtask_type`` ("chain", "group", "chord"): they register
#: themselves when their module (:data:`_CANVAS_MODULE`) is imported.
_KINDS: dict[str, Callable[..., Signature]] = {}
#: Named by path, not imported: the canvas sits above this module, and defining a task (at
#: ``django.setup()``) should not load it. The first signature of a canvas kind does.
_CANVAS_MODULE = "django_qstash.canvas"


def _kind(kind: str) -> Callable[..., Signature] | None:
    if kind not in _KINDS:
        importlib.import_module(_CANVAS_MODULE)
    return _KINDS.get(kind)


def signature_class(kind: str) -> Callable[..., Signature]:
    """The signature class of a ``subtask_type`` ("group", ...), for code below the canvas."""
    cls = _kind(kind)
    if cls is None:
        raise KeyError(kind)
    return cls


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

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        # chain and group register themselves, so a signature read back from its dict form
        # (in a message) becomes the right class without this module importing theirs.
        super().__init_subclass__(**kwargs)
        if kind is not None:
            _KINDS[kind] = cls

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

    def on_error(self, errback: Signature) -> Signature:
        """``link_error`` that returns this signature, for chaining (as Celery's)."""
        self.link_error(errback)
        return self

    def __or__(self, other: Signature) -> Signature:  # type: ignore[override]
        return signature_class("chain")(self, other)

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

    async def adelay(self, *args: Any, **kwargs: Any) -> Any:
        return await self.aapply_async(args, kwargs)

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """:meth:`apply_async` for async code (``Task.aapply_async``)."""
        call_args, call_kwargs, call_options = self._merge(args, kwargs, options)
        return await self.type.aapply_async(call_args, call_kwargs, **call_options)

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Run the task eagerly (see ``Task.apply``)."""
        call_args, call_kwargs, call_options = self._merge(args, kwargs, options)
        return self.type.apply(call_args, call_kwargs, **call_options)


# ---------------------------------------------------------------------------------- helpers


def signature(
    task: Task[..., Any] | str | Mapping[str, Any],
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    **options: Any,
) -> Signature:
    """``signature("app.tasks.add", args=(2, 2))``, or a signature from its dict form."""
    if isinstance(task, Mapping):
        return as_signature(task)
    immutable = bool(options.pop("immutable", False))
    return Signature(task, args, kwargs, options, immutable=immutable)


def maybe_signature(value: Any) -> Signature | None:
    """A :class:`Signature` (or chain/group) from a signature, a task, or its dict form."""
    if value is None:
        return None
    return as_signature(value)


def as_signature(value: Any) -> Signature:
    """A signature from a signature, its dict form, or a task; TypeError for anything else."""
    if isinstance(value, Signature):
        return value
    if isinstance(value, Mapping):
        kind = value.get("subtask_type")
        options = dict(value.get("options") or {})
        cls = _kind(kind) if kind else None
        if cls is not None:
            return cls(*value["kwargs"]["tasks"], **options)
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
        return [as_signature(value)]
    return [as_signature(item) for item in value]
