"""The task object behind ``@shared_task`` / ``@stashed_task``: Celery's calling API over QStash."""

from __future__ import annotations

import contextvars
import functools
import inspect
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from django_qstash import envelope
from django_qstash.conf import conf
from django_qstash.options import CALL_OPTIONS, PUBLISH_OPTIONS, delay_seconds, duration

if TYPE_CHECKING:
    from django_qstash.result import AsyncResult, EagerResult

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class TaskRequest:
    """``self.request`` of a bound task: what is known about the current execution."""

    id: str | None = None
    task: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: How many times this task was retried before this run (0-based, as in Celery).
    retries: int = 0
    eta: str | None = None
    expires: str | None = None
    schedule_id: str | None = None
    called_directly: bool = True
    is_eager: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    delivery_info: dict[str, Any] = field(default_factory=dict)


_current_request: contextvars.ContextVar[TaskRequest | None] = contextvars.ContextVar(
    "django_qstash_request", default=None
)


class Task(Generic[P, R]):
    """A registered function that can run inline, eagerly, or through QStash."""

    def __init__(
        self, func: Callable[..., Any], *, name: str | None = None, **options: Any
    ) -> None:
        self.run = func
        self.name: str = name or f"{func.__module__}.{func.__qualname__}"
        self.qualified_path = f"{func.__module__}.{func.__qualname__}"
        self.bind: bool = bool(options.pop("bind", False))
        #: Options as given to the decorator (QStash and Celery ones).
        self.options: dict[str, Any] = options
        self.is_async = inspect.iscoroutinefunction(func)
        signature = inspect.signature(func)
        if self.bind:
            parameters = list(signature.parameters.values())[1:]
            signature = signature.replace(parameters=parameters)
        self.signature = signature
        self.max_retries: int | None = options.get("max_retries")
        self.ignore_result: bool = bool(options.get("ignore_result", False))
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    # ------------------------------------------------------------------------ running inline

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function in this process, like calling it without the decorator."""
        if self.bind:
            token = _current_request.set(_current_request.get() or TaskRequest(task=self.name))
            try:
                result: R = self._invoke(list(args), dict(kwargs))
            finally:
                _current_request.reset(token)
            return result
        value: R = self._invoke(list(args), dict(kwargs))
        return value

    def _invoke(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        call_args = [self, *args] if self.bind else args
        if self.is_async:
            from asgiref.sync import async_to_sync

            return async_to_sync(self.run)(*call_args, **kwargs)
        return self.run(*call_args, **kwargs)

    @property
    def request(self) -> TaskRequest:
        """The current execution's request (``called_directly`` outside a delivery)."""
        return _current_request.get() or TaskRequest(task=self.name)

    # ------------------------------------------------------------------------ publishing

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncResult:
        """Publish a message that runs this task with these arguments."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncResult:
        """Publish with Celery's options (``countdown``, ``eta``, ...) and QStash's.

        A keyword that is not an option is passed to the task when the task accepts it, and
        raises :class:`TypeError` otherwise, so a misspelt option never passes silently.
        """
        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        for key in [k for k in options if k not in CALL_OPTIONS]:
            if not self._accepts_keyword(key):
                raise TypeError(
                    f"apply_async() got an unexpected keyword argument {key!r}: it is neither "
                    f"an option nor a parameter of task {self.name!r}"
                )
            task_kwargs[key] = options.pop(key)
        self.bind_arguments(task_args, task_kwargs)

        if conf.ALWAYS_EAGER:
            return self.apply(task_args, task_kwargs, **options)

        body, publish_options = self._prepare(task_args, task_kwargs, options)
        from django_qstash.publisher import publish

        message_id = publish(body, **publish_options)
        from django_qstash import hooks
        from django_qstash.result import AsyncResult

        store = hooks.get_result_store()
        if store is not None and not (options.get("ignore_result", self.ignore_result)):
            store.record_published(message_id, self.name, task_args, task_kwargs)
        hooks.send_robust(
            hooks.message_published,
            self,
            message_id=message_id,
            task_name=self.name,
            args=task_args,
            kwargs=task_kwargs,
        )
        return AsyncResult(message_id, task_name=self.name)

    def _prepare(
        self, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any]
    ) -> tuple[bytes, dict[str, Any]]:
        """The message body and the publisher's keyword arguments for one call."""
        merged = {k: v for k, v in self.options.items() if k in PUBLISH_OPTIONS}
        merged.update((k, v) for k, v in options.items() if k in PUBLISH_OPTIONS)
        if "timeout" not in merged and (
            self.options.get("time_limit") or options.get("time_limit")
        ):
            merged["timeout"] = options.get("time_limit") or self.options["time_limit"]
        if merged.get("timeout") is not None:
            merged["timeout"] = duration(merged["timeout"])
        if options.get("task_id") and "deduplication_id" not in merged:
            merged["deduplication_id"] = str(options["task_id"])
        delay = delay_seconds(options.get("countdown"), options.get("eta"))
        if delay:
            merged["delay"] = delay

        message_options: dict[str, Any] = {}
        if merged.get("max_retries") is not None:
            message_options["max_retries"] = merged["max_retries"]
        body = envelope.build(self.name, args, kwargs, message_options)
        return body, merged

    # ------------------------------------------------------------------------ eager

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> EagerResult:
        """Run the task now, in this process, as a delivery would; return an EagerResult."""
        from django_qstash import hooks, runner
        from django_qstash.result import EagerResult

        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        self.bind_arguments(task_args, task_kwargs)
        # Eager runs still go through JSON, so a test catches what a real publish would refuse.
        envelope.build(self.name, task_args, task_kwargs)
        delivery = hooks.Delivery(
            message_id=str(options.get("task_id") or uuid.uuid4().hex),
            task_name=self.name,
            args=task_args,
            kwargs=task_kwargs,
            is_eager=True,
        )
        outcome = runner.execute(self, delivery)
        result = EagerResult(
            delivery.message_id,
            task_name=self.name,
            status=outcome.status,
            value=outcome.value,
            exception=outcome.exception,
            traceback=outcome.traceback,
        )
        if outcome.exception is not None and (options.get("throw") or conf.EAGER_PROPAGATES):
            raise outcome.exception
        return result

    # ------------------------------------------------------------------------ arguments

    def bind_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError, as a call would, if the arguments do not fit the signature."""
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None

    def _accepts_keyword(self, key: str) -> bool:
        params = self.signature.parameters
        if key in params and params[key].kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            return True
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
