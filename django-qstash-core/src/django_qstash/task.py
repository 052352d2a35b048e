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

import contextvars
import functools
import inspect
import random
import re
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from django_qstash import canvas, envelope, hooks, publisher
from django_qstash import result as _results
from django_qstash.conf import conf
from django_qstash.exceptions import MaxRetriesExceededError, Retry
from django_qstash.options import (
    CALL_OPTIONS,
    CARRIED_PUBLISH_OPTIONS,
    MESSAGE_OPTIONS,
    PUBLISH_OPTIONS,
    RetryPolicy,
    delay_seconds,
    duration,
    eta_after,
    expiry,
    flow_control_for,
    retry_policy,
    warn_ignored,
)

if TYPE_CHECKING:
    from django_qstash.canvas import Signature

P = ParamSpec("P")
R = TypeVar("R")

#: QStash retries of the callback messages that carry ``link``/``link_error`` on.
CALLBACK_RETRIES = 3

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


@dataclass
class TaskRequest:
    """``self.request`` of a bound task: what is known about the current execution.

    Custom headers given with ``apply_async(headers=...)`` are in ``headers`` and, as in
    Celery, readable as attributes too (``self.request.tenant``).
    """

    #: Celery's task id: the first message's id, the same across ``self.retry()``.
    id: str | None = None
    task: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: How many times this task was retried before this run (0-based, as in Celery).
    retries: int = 0
    #: When the message was due (ISO 8601), if it was published with a countdown or eta.
    eta: str | None = None
    expires: str | None = None
    schedule_id: str | None = None
    called_directly: bool = True
    is_eager: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    delivery_info: dict[str, Any] = field(default_factory=dict)
    root_id: str | None = None
    parent_id: str | None = None
    group: str | None = None
    shadow: str | None = None
    callbacks: list[Any] | None = None
    errbacks: list[Any] | None = None
    #: The QStash message id of this delivery (differs from ``id`` after a ``self.retry()``).
    message_id: str | None = None
    #: The message's own options, carried over to the next attempt by ``retry()``.
    message_options: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Set by ``retry()`` past ``max_retries``: the failure that follows is final.
    retries_exhausted: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: Celery exposes custom headers this way.
        headers = self.__dict__.get("headers") or {}
        if name in headers:
            return headers[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class Execution:
    """The task running in this context; its :class:`TaskRequest` is built when first read.

    Most tasks never read ``self.request``, so a delivery does not pay for building it.
    """

    __slots__ = ("_build", "_request", "task_name")

    def __init__(
        self,
        task_name: str,
        build: Callable[[], TaskRequest] | None = None,
        request: TaskRequest | None = None,
    ) -> None:
        self.task_name = task_name
        self._build = build
        self._request = request

    @property
    def request(self) -> TaskRequest:
        request = self._request
        if request is None:
            assert self._build is not None
            request = self._request = self._build()
        return request


_current_execution: contextvars.ContextVar[Execution | None] = contextvars.ContextVar(
    "django_qstash_execution", default=None
)


@dataclass
class PreparedMessage:
    """One message ready to publish: the body and the publisher's keyword arguments."""

    task: Task[..., Any]
    args: list[Any]
    kwargs: dict[str, Any]
    body: bytes
    publish: dict[str, Any]
    ignore_result: bool


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
_celery_eager_setting_checked = False


class Task(Generic[P, R]):
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
        settings = {key: options.get(key, getattr(cls, key)) for key in _CELERY_ATTRIBUTES}
        for key, value in settings.items():
            setattr(self, key, value)
        self.ignore_result = bool(self.ignore_result)
        #: How ``autoretry_for`` failures are retried (by QStash).
        self.retry_policy: RetryPolicy = retry_policy(settings, self.max_retries)
        for key, value in options.items():
            warn_ignored(self.name, key, value, stacklevel=4)
        self._publish_defaults, self._message_defaults = self._defaults(cls)
        self._jittered = (
            self.retry_policy.enabled
            and self.retry_policy.jittered
            and "retry_delay" not in self._publish_defaults
        )
        #: Celery message headers every call carries (``self.request.headers``).
        self.default_headers: dict[str, Any] = dict(options.get("headers") or {})
        self._has_handlers = any(getattr(cls, h) is not getattr(Task, h) for h in _HANDLERS)
        functools.update_wrapper(self, func)

    def _defaults(self, cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
        """The publisher's keyword arguments and message options every call starts from."""
        options = self.options
        publish = {
            k: v
            for k, v in options.items()
            if k in PUBLISH_OPTIONS and v is not None and k != "headers"
        }
        message: dict[str, Any] = {}
        policy = self.retry_policy
        if policy.enabled:
            # Celery's default of 3 retries applies to autoretry; None means QStash's maximum.
            publish.pop("max_retries", None)
            if policy.max_retries is not None:
                publish["max_retries"] = policy.max_retries
            if "retry_delay" not in publish and not policy.jittered:
                publish["retry_delay"] = policy.delay_expression()
        elif (
            "max_retries" not in options
            and self.max_retries is not None
            and self._set_by_subclass(cls, "max_retries")
        ):
            publish["max_retries"] = self.max_retries
        if "timeout" not in publish and self.time_limit:
            publish["timeout"] = self.time_limit
        if publish.get("timeout") is not None:
            publish["timeout"] = duration(publish["timeout"])
        if "flow_control" not in publish and self.rate_limit:
            publish["flow_control"] = flow_control_for(self.name, self.rate_limit)
        if publish.get("max_retries") is not None:
            # Also in the message, so the webhook knows which attempt is the last.
            message["max_retries"] = publish["max_retries"]
        headers = options.get("headers")
        if headers:
            # Not in the message: the webhook knows the decorator's headers (default_headers).
            forwarded = _forwardable(headers)
            if forwarded:
                publish["headers"] = forwarded
        return publish, message

    @staticmethod
    def _set_by_subclass(cls: type, attribute: str) -> bool:
        return any(attribute in vars(klass) for klass in cls.__mro__ if klass is not Task)

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"

    # ------------------------------------------------------------------------ running inline

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function in this process, like calling it without the decorator."""
        if self.bind:
            request = TaskRequest(task=self.name, args=list(args), kwargs=dict(kwargs))
            token = _current_execution.set(Execution(self.name, request=request))
            try:
                result: R = self._invoke(list(args), dict(kwargs))
            finally:
                _current_execution.reset(token)
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
        current = _current_execution.get()
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
        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        if options:
            self._split_task_keywords(task_kwargs, options)
        self.bind_arguments(task_args, task_kwargs)

        if conf.ALWAYS_EAGER:
            return self.apply(task_args, task_kwargs, **options)
        if not _celery_eager_setting_checked:
            _check_celery_eager_setting()
        prepared = self._prepare_call(task_args, task_kwargs, options)
        message_id = publisher.publish(prepared.body, **prepared.publish)
        return self._published(message_id, prepared)

    def _split_task_keywords(self, task_kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        for key in [k for k in options if k not in CALL_OPTIONS]:
            if not self._accepts_keyword(key):
                raise TypeError(
                    f"apply_async() got an unexpected keyword argument {key!r}: it is neither "
                    f"an option nor a parameter of task {self.name!r}"
                )
            task_kwargs[key] = options.pop(key)

    def _published(self, message_id: str, prepared: PreparedMessage) -> _results.AsyncResult:
        """After a publish: the PENDING record, the ``message_published`` hook, the result."""
        store = hooks.get_result_store()
        if store is not None and not prepared.ignore_result:
            store.record_published(message_id, self.name, prepared.args, prepared.kwargs)
        hooks.send_robust(
            hooks.message_published,
            self,
            message_id=message_id,
            task_name=self.name,
            args=prepared.args,
            kwargs=prepared.kwargs,
        )
        return _results.AsyncResult(message_id, task_name=self.name)

    def _prepare_call(
        self,
        args: list[Any],
        kwargs: dict[str, Any],
        options: Mapping[str, Any],
        *,
        dedupe_task_id: bool = True,
    ) -> PreparedMessage:
        """The message for one call. ``.delay()`` without options takes the short path."""
        if not options and self.expires is None:
            publish = self._publish_defaults
            if self._jittered:
                expression = self.retry_policy.delay_expression(jitter=random.random())
                publish = {**publish, "retry_delay": expression}
            body = envelope.build(self.name, args, kwargs, self._message_defaults)
            return PreparedMessage(self, args, kwargs, body, publish, self.ignore_result)
        publish, message, ignore_result = self._options_for(options, dedupe_task_id)
        body = envelope.build(self.name, args, kwargs, message)
        return PreparedMessage(self, args, kwargs, body, publish, ignore_result)

    def _options_for(
        self, options: Mapping[str, Any], dedupe_task_id: bool
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """Publisher keyword arguments and message options for a call with options."""
        publish = dict(self._publish_defaults)
        message = dict(self._message_defaults)
        carried: dict[str, Any] = {}
        for key, value in options.items():
            if key == "headers":
                if value:
                    message["headers"] = dict(value)
                    publish["headers"] = {**publish.get("headers", {}), **_forwardable(value)}
            elif key in PUBLISH_OPTIONS:
                if value is None:
                    publish.pop(key, None)  # e.g. max_retries=None: QStash's maximum
                else:
                    publish[key] = value
                if key in CARRIED_PUBLISH_OPTIONS and value is not None:
                    carried[key] = value
            elif key not in CALL_OPTIONS or key in _CALL_OPTIONS_HANDLED_BELOW:
                continue
            else:
                warn_ignored(self.name, key, value, stacklevel=5)

        time_limit = options.get("time_limit")
        if time_limit and "timeout" not in options:
            publish["timeout"] = time_limit
        if publish.get("timeout") is not None:
            publish["timeout"] = duration(publish["timeout"])
            if "timeout" in options or time_limit:
                carried["timeout"] = publish["timeout"]
        if "max_retries" in options:
            if publish.get("max_retries") is None:
                message.pop("max_retries", None)
            else:
                message["max_retries"] = publish["max_retries"]

        delay = delay_seconds(options.get("countdown"), options.get("eta"))
        if delay:
            publish["delay"] = delay
            message["eta"] = eta_after(delay)

        task_id = options.get("task_id")
        if task_id is not None:
            message["task_id"] = str(task_id)
            if dedupe_task_id and "deduplication_id" not in publish:
                publish["deduplication_id"] = str(task_id)
        retries = int(options.get("retries") or 0)
        if retries:
            message["retries"] = retries
        for key in ("root_id", "parent_id", "group_id", "shadow"):
            if options.get(key) is not None:
                message[key] = str(options[key])
        expires = options.get("expires", self.expires)
        if expires is not None:
            message["expires"] = expiry(expires)
        ignore_result = bool(options.get("ignore_result", self.ignore_result))
        if ignore_result != self.ignore_result:
            message["ignore_result"] = ignore_result

        policy = self.retry_policy
        if policy.enabled and "retry_delay" not in options and "retry_delay" not in self.options:
            jitter = random.random() if policy.jittered else None
            publish["retry_delay"] = policy.delay_expression(offset=retries, jitter=jitter)

        self._add_links(options, publish, message)
        if carried:
            message["publish"] = carried
        return publish, message, ignore_result

    def _add_links(
        self, options: Mapping[str, Any], publish: dict[str, Any], message: dict[str, Any]
    ) -> None:
        """``link``/``link_error``: kept in the message, run from QStash's callbacks."""
        for key, publish_key, marker in (
            ("link", "callback", canvas.LINK_MARKER),
            ("link_error", "failure_callback", canvas.LINK_ERROR_MARKER),
        ):
            signatures = canvas.signature_list(options.get(key))
            if not signatures:
                continue
            if options.get(publish_key) or self.options.get(publish_key):
                raise TypeError(
                    f"{self.name}: give {key}= or {publish_key}=, not both (QStash allows one "
                    f"{publish_key.replace('_', ' ')} URL per message)"
                )
            message[key] = signatures
            publish[publish_key] = f"{conf.webhook_url}?{marker}"
            headers_key = f"{publish_key}_headers"
            publish[headers_key] = {"Retries": str(CALLBACK_RETRIES)}

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

        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        if options:
            self._split_task_keywords(task_kwargs, options)
        self.bind_arguments(task_args, task_kwargs)
        envelope.build(self.name, task_args, task_kwargs)
        transaction.on_commit(
            functools.partial(self.apply_async, task_args, task_kwargs, **options)
        )

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
            call_options = self._carried_options(request, retries, limit)
            call_options.update(options)
            call_options["eta" if eta is not None else "countdown"] = when
            prepared = self._prepare_call(new_args, new_kwargs, call_options, dedupe_task_id=False)
            message_id = publisher.publish(prepared.body, **prepared.publish)
            self._published(message_id, prepared)
            signal = Retry(exc=exc, when=when, message_id=message_id)
        if throw:
            raise signal
        return signal

    def _carried_options(
        self, request: TaskRequest, retries: int, limit: int | None
    ) -> dict[str, Any]:
        """The call options of the next attempt: what the current message was published with."""
        carried = request.message_options
        options: dict[str, Any] = dict(carried.get("publish") or {})
        for key in ("link", "link_error", "expires", "shadow", "root_id", "parent_id"):
            if key in carried:
                options[key] = carried[key]
        for key in ("group_id", "ignore_result", "headers"):
            if key in carried:
                options[key] = carried[key]
        options["task_id"] = request.id
        options["retries"] = retries
        if carried.get("max_retries") is not None and limit is not None:
            # QStash retries of the new message: what is left of the task's retries.
            options["max_retries"] = max(0, limit - retries)
        return options

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
        from django_qstash import runner

        task_args = list(args or ())
        task_kwargs = dict(kwargs or {})
        self.bind_arguments(task_args, task_kwargs)
        links = canvas.signature_list(link)
        errbacks = canvas.signature_list(link_error)
        message: dict[str, Any] = dict(self._message_defaults)
        for key in ("root_id", "parent_id", "group_id", "shadow"):
            if options.get(key) is not None:
                message[key] = str(options[key])
        if options.get("headers"):
            message["headers"] = dict(options["headers"])
        if links:
            message["link"] = links
        if errbacks:
            message["link_error"] = errbacks
        # Eager runs still go through JSON, so a test catches what a real publish would refuse.
        envelope.build(self.name, task_args, task_kwargs, message)
        task_id = str(task_id or uuid.uuid4().hex)
        while True:
            delivery = hooks.Delivery(
                message_id=task_id,
                task_name=self.name,
                args=task_args,
                kwargs=task_kwargs,
                options={**message, "retries": retries} if retries else message,
                is_eager=True,
            )
            outcome = runner.execute(self, delivery)
            retry = outcome.retry
            if retry is None or not retry.is_eager:
                break
            retries += 1
            task_args = retry.retry_args if retry.retry_args is not None else task_args
            task_kwargs = retry.retry_kwargs if retry.retry_kwargs is not None else task_kwargs
        result = _results.EagerResult(
            task_id,
            task_name=self.name,
            status=outcome.status,
            value=outcome.value,
            exception=outcome.exception,
            traceback=outcome.traceback,
        )
        root_id = message.get("root_id") or task_id
        if outcome.exception is None:
            for signature in links:
                signature.apply((outcome.value,), parent_id=task_id, root_id=root_id)
        else:
            for signature in errbacks:
                signature.apply((task_id,), parent_id=task_id, root_id=root_id)
        propagate = conf.EAGER_PROPAGATES if throw is None else throw
        if outcome.exception is not None and propagate:
            raise outcome.exception
        return result

    # ------------------------------------------------------------------------ signatures

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A signature of this call (``add.s(2, 2)``), for ``link``, ``chain`` and ``group``."""
        return canvas.Signature(self, args, kwargs)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable signature: it ignores the result of the task before it."""
        return canvas.Signature(self, args, kwargs, immutable=True)

    def signature(
        self,
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Signature:
        """Celery's ``task.signature(args, kwargs, countdown=10, ...)``."""
        immutable = bool(options.pop("immutable", False))
        return canvas.Signature(self, args, kwargs, options, immutable=immutable)

    subtask = signature

    # ------------------------------------------------------------------------ arguments

    def bind_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError, as a call would, if the arguments do not fit the signature."""
        simple = self._simple_parameters
        if simple is not None:
            # Plain ``def f(a, b=1)`` parameters: check without inspect (the webhook's hot path).
            positions, required = simple
            count = len(args)
            if (
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

    def AsyncResult(self, task_id: str) -> _results.AsyncResult:
        """The result of a message of this task (``my_task.AsyncResult(message_id)``)."""
        return _results.AsyncResult(task_id, task_name=self.name)


#: Call options ``_options_for`` reads itself (they are neither publish nor ignored options).
_CALL_OPTIONS_HANDLED_BELOW = MESSAGE_OPTIONS | {"countdown", "eta", "time_limit", "throw"}


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


def _forwardable(headers: Mapping[str, Any]) -> dict[str, str]:
    """The custom headers that can also travel as HTTP headers (forwarded to the webhook)."""
    return {
        str(name): str(value)
        for name, value in headers.items()
        if isinstance(value, (str, int, float)) and _HEADER_NAME.match(str(name))
    }


def _check_celery_eager_setting() -> None:
    """Once per process: say so if the project still relies on CELERY_TASK_ALWAYS_EAGER."""
    global _celery_eager_setting_checked
    _celery_eager_setting_checked = True
    from django.conf import settings

    if getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and not getattr(
        settings, "DJANGO_QSTASH_ALWAYS_EAGER", False
    ):
        warnings.warn(
            "CELERY_TASK_ALWAYS_EAGER is set but django-qstash does not read it: set "
            "DJANGO_QSTASH_ALWAYS_EAGER = True (and DJANGO_QSTASH_EAGER_PROPAGATES for "
            "CELERY_TASK_EAGER_PROPAGATES) to run django-qstash tasks in-process too.",
            UserWarning,
            stacklevel=4,
        )
