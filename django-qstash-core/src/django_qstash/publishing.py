"""Publishing a task: ``apply_async``'s sender (:func:`publish_now`), and the other ways to
publish, once the transaction commits and from async code without a thread hop (the event
loop's ``AsyncQStash`` client, see ``aio``).

Every one goes through the same pipeline: the task's checked arguments, ``pipeline.prepare``,
a sender, ``record_published``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast

from asgiref.sync import sync_to_async

from django_qstash.conf import conf

if TYPE_CHECKING:
    from django_qstash.result import AsyncResult
    from django_qstash.task import Task

P = ParamSpec("P")
R = TypeVar("R")

#: A checked call published now: ``(task, args, kwargs, call options)`` to its result handle.
Publish = Callable[["Task[Any, Any]", list[Any], dict[str, Any], Mapping[str, Any]], "AsyncResult"]


@functools.cache
def publish_now() -> Publish:
    """``apply_async``'s sender: the call's message from the pipeline, dispatched.

    Built on the first publish rather than at import, since defining tasks (``django.setup()``)
    needs neither the pipeline nor the SDK; and built once, since an import statement in
    ``apply_async`` would run importlib's Python code on every ``.delay()``.
    """
    from django_qstash import eager, pipeline, result

    def publish(
        task: Task[Any, Any], args: list[Any], kwargs: dict[str, Any], options: Mapping[str, Any]
    ) -> AsyncResult:
        eager.check_celery_eager_setting()
        prepared = pipeline.prepare(task, args, kwargs, options)
        return result.AsyncResult(pipeline.dispatch_one(prepared, task), task_name=task.name)

    return publish


class PublishingMixin(Generic[P, R]):
    """Part of :class:`~django_qstash.task.Task` (which defines what is declared below)."""

    if TYPE_CHECKING:
        name: str

        def _call_arguments(
            self,
            args: Sequence[Any] | None,
            kwargs: Mapping[str, Any] | None,
            options: dict[str, Any],
        ) -> tuple[list[Any], dict[str, Any]]: ...

        def apply_async(
            self,
            args: Sequence[Any] | None = None,
            kwargs: Mapping[str, Any] | None = None,
            **options: Any,
        ) -> AsyncResult: ...

        def apply(self, *args: Any, **kwargs: Any) -> Any: ...

    # ------------------------------------------------------------------------ on commit

    def delay_on_commit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """``delay()`` once the current transaction commits (now, outside one). Returns None."""
        self.apply_async_on_commit(args, kwargs)

    def apply_async_on_commit(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        """``apply_async()`` once the current transaction commits. Returns None, as in Celery.

        The arguments are checked now (signature and JSON), so a mistake raises at the call
        site rather than after the commit.
        """
        from django.db import transaction

        from django_qstash import envelope, pipeline

        task_args, task_kwargs = self._call_arguments(args, kwargs, options)
        if pipeline.has_interceptors() and not conf.ALWAYS_EAGER:
            # An interceptor (the outbox) may hold the message in the transaction instead.
            prepared = pipeline.prepare(cast("Task[P, R]", self), task_args, task_kwargs, options)
            if pipeline.intercept([prepared]) is not None:
                return
        else:
            envelope.build(self.name, task_args, task_kwargs)
        transaction.on_commit(
            functools.partial(self.apply_async, task_args, task_kwargs, **options)
        )

    # ------------------------------------------------------------------------ async code

    async def adelay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult:
        """``delay()`` for async code: published on the event loop, no thread hop."""
        return await self.aapply_async(args, kwargs)

    async def aapply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:
        """``apply_async()`` for async code, with the same options: the message is sent by the
        event loop's ``AsyncQStash`` client. Eager mode runs the task in a thread, as Django
        runs sync code from async code."""
        task_args, task_kwargs = self._call_arguments(args, kwargs, options)
        if conf.ALWAYS_EAGER:
            eager_result: AsyncResult = await sync_to_async(self.apply)(
                task_args, task_kwargs, **options
            )
            return eager_result
        from django_qstash import eager, pipeline, result

        eager.check_celery_eager_setting()
        prepared = pipeline.prepare(cast("Task[P, R]", self), task_args, task_kwargs, options)
        [message_id] = await pipeline.adispatch([prepared], [self])
        return result.AsyncResult(message_id, task_name=self.name)
