"""The task object behind ``@shared_task`` / ``@stashed_task``: Celery's task API over QStash.

How the Celery options map onto QStash is described in ``docs/celery.md``; in short:

* ``delay``/``apply_async`` publish one JSON message (see ``envelope``) to the webhook;
  ``countdown``/``eta`` become ``Upstash-Delay``, ``queue`` a QStash queue, ``time_limit``
  ``Upstash-Timeout``, ``task_id`` the deduplication id, ``rate_limit`` flow control.
* ``autoretry_for`` + ``retry_backoff``/``retry_kwargs``/... become QStash's own retries
  (``Upstash-Retries`` and an ``Upstash-Retry-Delay`` expression).
* ``self.retry()`` publishes the next attempt itself and the webhook answers 200, so QStash does
  not retry the current message too.
* ``link``/``link_error`` (and so ``chain``) ride on QStash callbacks to the webhook.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from django_qstash.conf import conf
from django_qstash.exceptions import MaxRetriesExceededError, Retry
from django_qstash.options import (
    CALL_OPTIONS,
    RetryPolicy,
    call_defaults,
    check_decorator_options,
    retry_policy,
    warn_ignored,
)
from django_qstash.publishing import PublishingMixin, publish_now

# Defining a task needs only the option table; the pipeline and the canvas load on first use.
if TYPE_CHECKING:
    from django_qstash import result as _results
    from django_qstash.canvas import Signature
    from django_qstash.execution import TaskRequest

P = ParamSpec("P")
R = TypeVar("R")

#: Celery's task attributes (defaults on the class below).
_CELERY_ATTRIBUTES = (
    "max_retries",
    "default_retry_delay",
    "autoretry_for",
    "dont_autoretry_for",
    "retry_kwargs",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "ignore_result",
    "time_limit",
    "soft_time_limit",
    "rate_limit",
    "expires",
    "acks_late",
    "serializer",
    "priority",
    "throws",
    "typing",
)
_HANDLERS = ("on_success", "on_failure", "on_retry", "after_return")


class Task(PublishingMixin[P, R], Generic[P, R]):
    """A registered function that can run inline, eagerly, or through QStash."""

    # Celery's task attributes and defaults; a ``base=`` subclass may override them, and
    # decorator options override both.
    max_retries: int | None = 3
    default_retry_delay: float = 180
    autoretry_for: tuple[type[BaseException], ...] = ()
    dont_autoretry_for: tuple[type[BaseException], ...] = ()
    retry_kwargs: dict[str, Any] = {}
    retry_backoff: bool | float = False
    retry_backoff_max: float = 600
    retry_jitter: bool = True
    ignore_result: bool = False
    time_limit: float | str | None = None
    soft_time_limit: float | None = None
    rate_limit: int | float | str | None = None
    expires: Any = None
    acks_late: bool | None = None
    serializer: str | None = None
    priority: int | None = None
    throws: tuple[type[BaseException], ...] = ()
    typing: bool | None = None
    track_started: bool = True
    store_errors_even_if_ignored: bool = False
    # Every other decorator option reads as an attribute too (``task.queue``): None unless given.
    queue: str | None = None
    timeout: float | str | None = None
    retry_delay: str | None = None
    label: str | None = None
    flow_control: Any = None
    deduplication_id: str | None = None
    content_based_deduplication: bool | None = None
    callback: str | None = None
    failure_callback: str | None = None
    headers: dict[str, Any] | None = None
    compression: str | None = None
    reject_on_worker_lost: bool | None = None
    acks_on_failure_or_timeout: bool | None = None
    exchange: str | None = None
    routing_key: str | None = None
    delivery_mode: int | None = None

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
        call_signature = inspect.signature(func)
        if self.bind:
            parameters = list(call_signature.parameters.values())[1:]
            call_signature = call_signature.replace(parameters=parameters)
        #: What a call's arguments must fit (without ``self`` for a bound task).
        self.call_signature = call_signature
        self._simple_parameters = _simple_parameters(call_signature)

        cls = type(self)
        check_decorator_options(options, [key for key in options if self._is_own_member(key)])
        for key, value in options.items():
            # As Celery: every decorator option, known or not, is a task attribute.
            setattr(self, key, value)
        settings = {key: options.get(key, getattr(cls, key)) for key in _CELERY_ATTRIBUTES}
        for key, value in settings.items():
            setattr(self, key, value)
        self.ignore_result = bool(self.ignore_result)
        #: How ``autoretry_for`` failures are retried (by QStash).
        self.retry_policy: RetryPolicy = retry_policy(settings, self.max_retries)
        for key, value in options.items():
            warn_ignored(self.name, key, value, stacklevel=4)
        #: What every publish of this task starts from (see ``pipeline``).
        self.call_defaults = call_defaults(
            self, class_sets_max_retries=self._set_by_subclass(cls, "max_retries")
        )
        #: Celery message headers every call carries (``self.request.headers``).
        self.default_headers: dict[str, Any] = dict(options.get("headers") or {})
        self._has_handlers = any(getattr(cls, h) is not getattr(Task, h) for h in _HANDLERS)
        functools.update_wrapper(self, func)

    def _is_own_member(self, key: str) -> bool:
        """A method, property or internal attribute an option must not replace."""
        member = getattr(type(self), key, None)
        return key in vars(self) or callable(member) or isinstance(member, property)

    @staticmethod
    def _set_by_subclass(cls: type, attribute: str) -> bool:
        return any(attribute in vars(klass) for klass in cls.__mro__ if klass is not Task)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    # ------------------------------------------------------------------------ running inline

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function in this process, like calling it without the decorator."""
        if self.bind:
            from django_qstash.execution import Execution, TaskRequest, current_execution

            request = TaskRequest(task=self.name, args=list(args), kwargs=dict(kwargs))
            token = current_execution.set(Execution(self.name, request=request))
            try:
                result: R = self._invoke(list(args), dict(kwargs))
            finally:
                current_execution.reset(token)
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
        from django_qstash.execution import TaskRequest, current_execution

        current = current_execution.get()
        if current is not None and current.task_name == self.name:
            return current.request
        return TaskRequest(task=self.name)

    # ------------------------------------------------------------------------ Celery handlers

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        """Called after the task returned (override in a ``base=`` class)."""

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: str | None
    ) -> None:
        """Called after the task raised; ``einfo`` is the formatted traceback."""

    def on_retry(
        self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: str | None
    ) -> None:
        """Called when the task will be retried."""

    def after_return(
        self,
        status: str,
        retval: Any,
        task_id: str,
        args: Any,
        kwargs: Any,
        einfo: str | None,
    ) -> None:
        """Called after every run, whatever the outcome."""

    # ------------------------------------------------------------------------ publishing

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> _results.AsyncResult:
        """Publish a message that runs this task with these arguments."""
        return self.apply_async(args, kwargs)

    def apply_async(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> _results.AsyncResult:
        """Publish with Celery's options (``countdown``, ``eta``, ...) and QStash's.

        A keyword that is not an option is passed to the task when the task accepts it, and
        raises :class:`TypeError` otherwise, so a misspelt option never passes silently.
        """
        task_args, task_kwargs = self._call_arguments(args, kwargs, options)
        if conf.ALWAYS_EAGER:
            return self.apply(task_args, task_kwargs, **options)
        publish = publish_now()
        return publish(self, task_args, task_kwargs, options)

    def _call_arguments(
        self, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, options: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """The task's arguments of a publish (task keywords moved out of ``options``), checked."""
        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        if options:
            self._split_task_keywords(task_kwargs, options)
        self.bind_arguments(task_args, task_kwargs)
        return task_args, task_kwargs

    def _split_task_keywords(self, task_kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        for key in [k for k in options if k not in CALL_OPTIONS]:
            if not self._accepts_keyword(key):
                raise TypeError(
                    f"apply_async() got an unexpected keyword argument {key!r}: it is neither "
                    f"an option nor a parameter of task {self.name!r}"
                )
            task_kwargs[key] = options.pop(key)

    # ------------------------------------------------------------------------ retrying

    def retry(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        exc: BaseException | None = None,
        throw: bool = True,
        eta: Any = None,
        countdown: float | None = None,
        max_retries: int | None = None,
        **options: Any,
    ) -> Retry:
        """Run this task again later; use as ``raise self.retry(exc=exc, countdown=60)``.

        Publishes the next attempt (same task id, ``retries`` + 1, delayed by ``countdown``,
        default ``default_retry_delay``) and raises :class:`Retry`, which the webhook answers
        with 200 so QStash does not retry this message as well. Past ``max_retries`` it
        re-raises ``exc`` or raises :class:`MaxRetriesExceededError`, and that failure is
        final. In eager mode ``apply()`` runs the next attempt at once.
        """
        request = self.request
        if request.called_directly:
            # Not running from a delivery: there is nothing to retry, as in Celery.
            if exc is not None:
                raise exc
            raise Retry("Task can be retried", exc=None)
        retries = request.retries + 1
        limit = self.max_retries if max_retries is None else max_retries
        new_args = list(request.args if args is None else args)
        new_kwargs = dict(request.kwargs if kwargs is None else kwargs)
        if limit is not None and retries > limit:
            request.retries_exhausted = True
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{new_args} kwargs:{new_kwargs}",
                task_args=new_args,
                task_kwargs=new_kwargs,
            )
        if eta is None and countdown is None:
            countdown = self.default_retry_delay
        when = eta if eta is not None else countdown
        if request.is_eager:
            signal = Retry(exc=exc, when=when, args=new_args, kwargs=new_kwargs, is_eager=True)
        else:
            from django_qstash import pipeline, publisher

            call_options = pipeline.next_attempt_options(request, retries, limit)
            call_options.update(options)
            call_options["eta" if eta is not None else "countdown"] = when
            prepared = pipeline.prepare(
                self, new_args, new_kwargs, call_options, dedupe_task_id=False
            )
            message_id = publisher.send(prepared)
            pipeline.record_published(prepared, message_id, self)
            signal = Retry(exc=exc, when=when, message_id=message_id)
        if throw:
            raise signal
        return signal

    # ------------------------------------------------------------------------ eager

    def apply(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        *,
        task_id: str | None = None,
        retries: int = 0,
        throw: bool | None = None,
        link: Any = None,
        link_error: Any = None,
        **options: Any,
    ) -> _results.EagerResult:
        """Run the task now, in this process, as a delivery would; return an EagerResult.

        As in Celery, ``self.retry()`` runs the next attempt at once (ignoring the countdown)
        with the same task id, and ``link``/``link_error`` run eagerly after the task.
        """
        from django_qstash import eager

        return eager.apply(
            self,
            list(args or ()),
            dict(kwargs or {}),
            task_id=task_id,
            retries=retries,
            throw=throw,
            link=link,
            link_error=link_error,
            options=options,
        )

    # ------------------------------------------------------------------------ signatures

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature of this call (``add.s(2, 2)``), for ``link``, ``chain`` and ``group``."""
        return self.signature(args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: it ignores the result of the task before it."""
        return self.signature(args, kwargs, immutable=True)

    def signature(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """Celery's ``task.signature(args, kwargs, countdown=10, ...)``."""
        from django_qstash.canvas import Signature

        immutable = bool(options.pop("immutable", False))
        return Signature(self, args, kwargs, options, immutable=immutable)

    subtask = signature

    # ------------------------------------------------------------------------ arguments

    def bind_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError, as a call would, if the arguments do not fit the signature."""
        simple = self._simple_parameters
        if simple is not None:
            # Plain ``def f(a, b=1)`` parameters: check without inspect (the webhook's hot path).
            positions, required = simple
            count = len(args)
            if not kwargs:
                # Required parameters come first, so positional arguments alone fit when there
                # are at least as many as required and no more than there are parameters.
                if len(required) <= count <= len(positions):
                    return
            elif (
                count <= len(positions)
                and all(positions.get(key, -1) >= count for key in kwargs)
                and all(position < count or name in kwargs for name, position in required)
            ):
                return
        try:
            self.call_signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}(): {exc}") from None

    def _accepts_keyword(self, key: str) -> bool:
        params = self.call_signature.parameters
        if key in params and params[key].kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            return True
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

    def get_logger(self, **_: Any) -> logging.Logger:
        """Celery's ``self.get_logger()``: :func:`django_qstash.log.get_task_logger` of this
        task's name (records carry ``task_id`` and ``task_name``)."""
        from django_qstash.log import get_task_logger

        return get_task_logger(self.name)

    def AsyncResult(self, task_id: str) -> _results.AsyncResult:
        """The result of a message of this task (``my_task.AsyncResult(message_id)``)."""
        from django_qstash import result

        return result.AsyncResult(task_id, task_name=self.name)


def _simple_parameters(
    signature: inspect.Signature,
) -> tuple[dict[str, int], tuple[tuple[str, int], ...]] | None:
    """Positions and required names when every parameter is positional-or-keyword."""
    parameters = list(signature.parameters.values())
    if any(p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    positions = {p.name: index for index, p in enumerate(parameters)}
    required = tuple((p.name, index) for index, p in enumerate(parameters) if p.default is p.empty)
    return positions, required
