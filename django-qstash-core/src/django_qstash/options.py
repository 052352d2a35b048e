"""Task options: the one table of every option a task accepts, and what each one does.

:data:`OPTIONS` lists every option of the decorator and of ``apply_async`` (Celery's names and
QStash's), where it may be given, and its role; the sets the rest of the code uses are derived
from it. Adding an option is a row here, plus its handling in ``pipeline`` (publish options
need none: they pass to the publisher by name) and a test. ``docs/celery.md`` explains each
option to users.
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from django_qstash.durations import (
    aware,
    delay_seconds,
    duration,
    duration_seconds,
    eta_after,
    expiry,
    has_expired,
    whole_seconds,
)
from django_qstash.exceptions import IgnoredOptionWarning
from django_qstash.retries import RetryPolicy, flow_control_for, retry_policy

if TYPE_CHECKING:
    from django_qstash.task import Task

__all__ = [
    "CALL_OPTIONS",
    "CALL_PUBLISH_OPTIONS",
    "CARRIED_PUBLISH_OPTIONS",
    "CELERY_OPTIONS",
    "DECORATOR_OPTIONS",
    "MESSAGE_OPTIONS",
    "OPTIONS",
    "PUBLISH_OPTIONS",
    "TASKS_BACKEND_OPTIONS",
    "CallDefaults",
    "Option",
    "RetryPolicy",
    "Role",
    "aware",
    "call_defaults",
    "check_decorator_options",
    "delay_seconds",
    "duration",
    "duration_seconds",
    "eta_after",
    "expiry",
    "flow_control_for",
    "forwardable",
    "has_expired",
    "ignored_reason",
    "retry_policy",
    "warn_ignored",
    "whole_seconds",
]


class Role(enum.Enum):
    #: A QStash delivery option: passed to the publisher under this name (``Upstash-*``).
    PUBLISH = "publish"
    #: Kept in the message's envelope (``Envelope.options``), read by the webhook.
    MESSAGE = "message"
    #: Read by the pipeline and turned into QStash options or message data.
    CALL = "call"
    #: A Celery task attribute the task runtime honours.
    TASK = "task"
    #: Accepted for Celery compatibility; warned about once (see ``effect``).
    IGNORED = "ignored"


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define
# when Django sets up (this module is imported then).
class Option(NamedTuple):
    name: str
    role: Role
    #: What the option does here (for ignored ones: why it has no effect).
    effect: str
    decorator: bool = True
    call: bool = True
    #: A per-call publish option that ``self.retry()`` republishes with.
    carried: bool = False
    #: Also a QStash option of ``django.tasks`` Tasks (``QStashTask``) and backend ``OPTIONS``.
    tasks_backend: bool = False


_P, _M, _C, _T, _I = Role.PUBLISH, Role.MESSAGE, Role.CALL, Role.TASK, Role.IGNORED
_RETRIES_NOTE = "publishing retries are set by DJANGO_QSTASH_PUBLISH_RETRIES"
_CLIENT_NOTE = "publishing goes through django-qstash's shared QStash client"
_BROKER_NOTE = "an AMQP broker setting; QStash delivers over HTTPS"

#: Every option, once. Order is the order of the docs' table.
OPTIONS: tuple[Option, ...] = (
    # QStash's own options (decorator and per call)
    Option("max_retries", _P, "Upstash-Retries (autoretry: the retries left)", tasks_backend=True),
    Option(
        "retry_delay", _P, "Upstash-Retry-Delay (ms expression)", carried=True, tasks_backend=True
    ),
    Option("timeout", _P, "Upstash-Timeout (seconds or '30s')", carried=True, tasks_backend=True),
    Option("queue", _P, "enqueue to this QStash queue (FIFO)", carried=True),
    Option("deduplication_id", _P, "Upstash-Deduplication-Id", tasks_backend=True),
    Option(
        "content_based_deduplication",
        _P,
        "Upstash-Content-Based-Deduplication",
        tasks_backend=True,
    ),
    Option("callback", _P, "Upstash-Callback URL", carried=True, tasks_backend=True),
    Option(
        "failure_callback", _P, "Upstash-Failure-Callback URL", carried=True, tasks_backend=True
    ),
    Option("headers", _P, "forwarded headers; self.request.headers"),
    Option("label", _P, "Upstash-Label", carried=True, tasks_backend=True),
    Option("flow_control", _P, "Upstash-Flow-Control-Key/-Value", carried=True),
    Option("not_before", _P, "Upstash-Not-Before (Unix seconds)", decorator=False),
    # Celery's per-call options
    Option("countdown", _C, "Upstash-Delay (seconds, rounded up)", decorator=False),
    Option("eta", _C, "Upstash-Delay until that time; self.request.eta", decorator=False),
    Option("task_id", _M, "Celery's task id; deduplication id of the publish", decorator=False),
    Option("retries", _M, "retries before this message (self.retry())", decorator=False),
    Option("root_id", _M, "self.request.root_id", decorator=False),
    Option("parent_id", _M, "self.request.parent_id", decorator=False),
    Option("group_id", _M, "self.request.group", decorator=False),
    Option("chord", _M, "the chord a header task counts toward (set by chord())", decorator=False),
    Option("link", _M, "signatures run from Upstash-Callback", decorator=False),
    Option("link_error", _M, "signatures run from Upstash-Failure-Callback", decorator=False),
    Option("shadow", _M, "the name logs show", decorator=False),
    Option("expires", _M, "not run after this time (acknowledged, recorded as expired)"),
    Option("expiration", _M, "kombu's name of expires (seconds or a datetime)", decorator=False),
    Option("ignore_result", _M, "no result row"),
    Option(
        "django_task",
        _M,
        "when and how a django.tasks task was enqueued (its using() options)",
        decorator=False,
        call=False,
    ),
    Option("time_limit", _C, "Upstash-Timeout"),
    Option("throw", _C, "eager mode: re-raise", decorator=False),
    # Celery's task attributes (decorator only)
    Option("bind", _T, "the task receives self", call=False),
    Option("autoretry_for", _T, "retried by QStash (Upstash-Retries/-Retry-Delay)", call=False),
    Option("dont_autoretry_for", _T, "never retried", call=False),
    Option("retry_kwargs", _T, "max_retries/countdown of autoretry", call=False),
    Option("retry_backoff", _T, "exponential Upstash-Retry-Delay", call=False),
    Option("retry_backoff_max", _T, "cap of the backoff", call=False),
    Option("retry_jitter", _T, "a random factor per message", call=False),
    Option("default_retry_delay", _T, "self.retry() countdown", call=False),
    Option("acks_late", _T, "always true here", call=False),
    Option("rate_limit", _T, "flow control keyed by the task name", call=False),
    Option("track_started", _T, "always tracked (results app)", call=False),
    Option("throws", _T, "expected exceptions, logged without traceback", call=False),
    Option("typing", _T, "arguments checked at call time", call=False),
    Option("base", _T, "a Task subclass", call=False),
    Option("store_errors_even_if_ignored", _T, "no effect", call=False),
    Option("serializer", _T, "messages are always JSON"),
    # Celery options with no effect here
    Option(
        "soft_time_limit",
        _I,
        "QStash has a single, hard timeout (time_limit maps to Upstash-Timeout); nothing raises "
        "SoftTimeLimitExceeded inside the task",
    ),
    Option("priority", _I, "QStash has no message priorities (use a queue= to order work instead)"),
    Option("compression", _I, "messages travel as plain JSON"),
    Option(
        "reject_on_worker_lost",
        _I,
        "there is no worker: a delivery that gets no answer is retried by QStash",
        call=False,
    ),
    Option(
        "acks_on_failure_or_timeout",
        _I,
        "QStash retries a failed delivery until its retries run out (set max_retries=0 not to "
        "retry)",
        call=False,
    ),
    Option("exchange", _I, "QStash has no exchanges; use queue="),
    Option("routing_key", _I, "QStash has no routing keys; use queue="),
    # The broker's (kombu's) message options: nothing to do with a QStash publish
    Option("delivery_mode", _I, _BROKER_NOTE),
    Option("mandatory", _I, _BROKER_NOTE),
    Option("immediate", _I, _BROKER_NOTE),
    Option("exchange_type", _I, _BROKER_NOTE),
    Option("declare", _I, _BROKER_NOTE),
    Option("content_type", _I, "messages are always JSON"),
    Option("content_encoding", _I, "messages are always UTF-8 JSON"),
    Option("reply_to", _I, _BROKER_NOTE, decorator=False),
    Option("correlation_id", _I, _BROKER_NOTE, decorator=False),
    Option("retry", _I, _RETRIES_NOTE, decorator=False),
    Option("retry_policy", _I, _RETRIES_NOTE, decorator=False),
    Option("producer", _I, _CLIENT_NOTE, decorator=False),
    Option("connection", _I, _CLIENT_NOTE, decorator=False),
    Option("add_to_parent", _I, "results do not track parent/child relations", decorator=False),
)

_BY_ROLE: dict[Role, list[Option]] = {role: [] for role in Role}
for _option in OPTIONS:
    _BY_ROLE[_option.role].append(_option)

#: QStash delivery options, accepted on the decorator and per call.
PUBLISH_OPTIONS = frozenset(o.name for o in _BY_ROLE[Role.PUBLISH] if o.decorator)
#: Every QStash delivery option of a call (``not_before`` is per call only).
CALL_PUBLISH_OPTIONS = frozenset(o.name for o in _BY_ROLE[Role.PUBLISH])
#: Per-call publish options a retry republishes with (the message must go where it went).
CARRIED_PUBLISH_OPTIONS = tuple(o.name for o in OPTIONS if o.carried)
DECORATOR_OPTIONS = frozenset(o.name for o in OPTIONS if o.decorator) | {"name"}
#: Celery options of the decorator with a meaning here (handled by the task runtime), or
#: warned about.
CELERY_OPTIONS = DECORATOR_OPTIONS - PUBLISH_OPTIONS - {"name"}
#: Options ``apply_async`` keeps in the message itself (``Envelope.options``).
MESSAGE_OPTIONS = frozenset(o.name for o in _BY_ROLE[Role.MESSAGE])
#: Per-call options of ``apply_async`` besides ``args``/``kwargs``.
CALL_OPTIONS = frozenset(o.name for o in OPTIONS if o.call)
#: The QStash options of a ``django.tasks`` Task, in the table's order.
TASKS_BACKEND_OPTIONS = tuple(o.name for o in OPTIONS if o.tasks_backend)

# ------------------------------------------------------------------------------ ignored options

_IGNORED: dict[str, str] = {
    option.name: option.effect for option in OPTIONS if option.role is Role.IGNORED
}

_KNOWN = frozenset(option.name for option in OPTIONS) | {"name"}

_warned: set[tuple[str, str]] = set()


def ignored_reason(option: str, value: Any) -> str | None:
    """Why ``option=value`` has no effect here, or ``None`` when it is honoured."""
    if option == "acks_late":
        return (
            None
            if value or value is None
            else (
                "QStash always acknowledges late: a message counts as delivered only once the "
                "webhook answered 2xx"
            )
        )
    if option == "serializer":
        return None if value in (None, "json") else "messages are always JSON"
    if option == "typing":
        return None if value or value is None else "arguments are always checked at call time"
    if option in ("priority", "soft_time_limit") and value is None:
        return None
    if option not in _KNOWN:
        return (
            "it is not an option django-qstash knows (kept as the task attribute, as Celery "
            "keeps it)"
        )
    return _IGNORED.get(option)


def warn_ignored(task_name: str, option: str, value: Any, *, stacklevel: int = 3) -> None:
    """Warn, once per task and option, that a Celery option has no effect here."""
    reason = ignored_reason(option, value)
    if reason is None or (task_name, option) in _warned:
        return
    _warned.add((task_name, option))
    warnings.warn(
        f"{task_name}: Celery option {option}={value!r} has no effect with django-qstash: "
        f"{reason}.",
        IgnoredOptionWarning,
        stacklevel=stacklevel,
    )


def check_decorator_options(options: Mapping[str, Any], reserved: Collection[str]) -> None:
    """Refuse an option that would hide a method or property of the task (``delay=...``).

    Any other option is accepted, as in Celery: one this table does not know becomes a task
    attribute and warns once (:func:`warn_ignored`).
    """
    clashing = sorted((set(options) - DECORATOR_OPTIONS) & set(reserved))
    if clashing:
        raise TypeError(
            f"task option{'s' if len(clashing) > 1 else ''} {', '.join(clashing)} would hide "
            f"the task's own {'attributes' if len(clashing) > 1 else 'attribute'} of that name. "
            f"Known options: {', '.join(sorted(DECORATOR_OPTIONS))}."
        )


# ------------------------------------------------------------------ a task's call defaults

_HEADER_NAME = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"  # compiled (and cached) by re on first use

#: Publish options that are only ever given per call (not task defaults).
_NOT_DEFAULTS = frozenset({"headers"})


class CallDefaults(NamedTuple):
    """What every call of one task starts from (worked out once, when the task is created)."""

    #: QStash options by the publisher's names (headers aside).
    publish: dict[str, Any]
    #: The decorator's ``headers`` that can travel as HTTP headers.
    headers: dict[str, str]
    #: Envelope options every message carries (``max_retries``).
    message: dict[str, Any]
    #: The retry delay needs a jitter factor drawn per message.
    jittered: bool = False


def call_defaults(task: Task[..., Any], *, class_sets_max_retries: bool) -> CallDefaults:
    """The defaults of ``task``'s calls, from its decorator options and Celery attributes.

    ``class_sets_max_retries``: a ``base=`` class (not the decorator) sets ``max_retries``.
    """
    options = task.options
    publish = {
        k: v
        for k, v in options.items()
        if k in PUBLISH_OPTIONS and v is not None and k not in _NOT_DEFAULTS
    }
    message: dict[str, Any] = {}
    policy = task.retry_policy
    if policy.enabled:
        # Celery's default of 3 retries applies to autoretry; None means QStash's maximum.
        publish.pop("max_retries", None)
        if policy.max_retries is not None:
            publish["max_retries"] = policy.max_retries
        if "retry_delay" not in publish and not policy.jittered:
            publish["retry_delay"] = policy.delay_expression()
    elif "max_retries" not in options and task.max_retries is not None and class_sets_max_retries:
        publish["max_retries"] = task.max_retries
    if "timeout" not in publish and task.time_limit:
        publish["timeout"] = task.time_limit
    if publish.get("timeout") is not None:
        publish["timeout"] = duration(publish["timeout"])
    if "flow_control" not in publish and task.rate_limit:
        publish["flow_control"] = flow_control_for(task.name, task.rate_limit)
    if publish.get("max_retries") is not None:
        # Also in the message, so the webhook knows which attempt is the last.
        message["max_retries"] = publish["max_retries"]
    # Not in the message: the webhook knows the decorator's headers (default_headers).
    headers = forwardable(options.get("headers") or {})
    jittered = policy.enabled and policy.jittered and "retry_delay" not in publish
    return CallDefaults(publish, headers, message, jittered)


def forwardable(headers: Mapping[str, Any]) -> dict[str, str]:
    """The custom headers that can also travel as HTTP headers (forwarded to the webhook)."""
    return {
        str(name): str(value)
        for name, value in headers.items()
        if isinstance(value, (str, int, float)) and re.match(_HEADER_NAME, str(name))
    }
