"""The publish pipeline: from a task call to a :class:`~django_qstash.messages.PreparedMessage`.

Every way of publishing a task goes through :func:`prepare`: ``Task.apply_async``/``delay``,
``self.retry()``, ``chain``/``group``, the ``django.tasks`` backend, and the schedules app
(through ``hooks``). It reads the task's defaults (decorator options and Celery attributes,
worked out once per task by ``options.call_defaults``) and the call's options (see the table in
``options``), and returns the destination, body, headers and QStash options. It sends nothing
and records nothing: a sender publishes the message, then :func:`record_published` tells the
result store and ``message_published`` receivers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from django_qstash import envelope, publisher
from django_qstash.conf import conf
from django_qstash.messages import PreparedMessage, PublishInterceptor
from django_qstash.options import (
    CALL_OPTIONS,
    CALL_PUBLISH_OPTIONS,
    CARRIED_PUBLISH_OPTIONS,
    MESSAGE_OPTIONS,
    CallDefaults,
    delay_seconds,
    duration,
    eta_after,
    expiry,
    forwardable,
    warn_ignored,
)
from django_qstash.signals import message_published, send_robust
from django_qstash.signatures import LINK_ERROR_MARKER, LINK_MARKER, signature_list
from django_qstash.store_registry import get_result_store

if TYPE_CHECKING:
    from django_qstash.execution import TaskRequest
    from django_qstash.task import Task

_interceptors: list[PublishInterceptor] = []

#: QStash retries of the callback messages that carry ``link``/``link_error`` on.
CALLBACK_RETRIES = 3

#: Call options :func:`_options_for` reads itself (neither publish nor ignored options).
_READ_BELOW = MESSAGE_OPTIONS | {"countdown", "eta", "time_limit", "throw"}


def prepare(
    task: Task[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    options: Mapping[str, Any] | None = None,
    *,
    dedupe_task_id: bool = True,
    carry: bool = True,
    jitter: float | None = None,
) -> PreparedMessage:
    """The message that runs ``task(*args, **kwargs)`` with these call options.

    ``dedupe_task_id``: a ``task_id`` also becomes the deduplication id (not for a retry,
    which reuses the id). ``carry``: keep per-call publish options in the message for
    ``self.retry()``. ``jitter``: the retry-delay jitter factor (0..1), drawn at random when
    None. Raises TypeError/ValueError for a bad option and
    :class:`~django_qstash.exceptions.ArgumentsNotSerializable` for arguments that are not
    JSON; nothing is sent either way.
    """
    defaults: CallDefaults = task.call_defaults
    if not options and task.expires is None:
        # ``.delay()`` without options: the defaults as they are.
        publish = dict(defaults.publish)
        if defaults.jittered:
            factor = random.random() if jitter is None else jitter
            publish["retry_delay"] = task.retry_policy.delay_expression(jitter=factor)
        body = envelope.build(task.name, args, kwargs, defaults.message)
        headers = dict(defaults.headers) if defaults.headers else {}
        ignore_result = bool(task.ignore_result)
    else:
        publish, headers, message, ignore_result = _options_for(
            task, defaults, options or {}, dedupe_task_id, carry, jitter
        )
        body = envelope.build(task.name, args, kwargs, message)
    return PreparedMessage(
        destination=conf.webhook_url,
        body=body,
        headers=headers,
        options=publish,
        task_name=task.name,
        args=args,
        kwargs=kwargs,
        ignore_result=ignore_result,
    )


def _options_for(
    task: Task[..., Any],
    defaults: CallDefaults,
    options: Mapping[str, Any],
    dedupe_task_id: bool,
    carry: bool,
    jitter: float | None,
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any], bool]:
    """QStash options, headers, message options and ``ignore_result`` of a call with options."""
    publish = dict(defaults.publish)
    headers = dict(defaults.headers)
    message = dict(defaults.message)
    carried: dict[str, Any] = {}
    for key, value in options.items():
        if key == "headers":
            if value:
                message["headers"] = dict(value)
                headers.update(forwardable(value))
        elif key in CALL_PUBLISH_OPTIONS:
            if value is None:
                publish.pop(key, None)  # e.g. max_retries=None: QStash's maximum
            else:
                publish[key] = value
            if key in CARRIED_PUBLISH_OPTIONS and value is not None:
                carried[key] = value
        elif key not in CALL_OPTIONS or key in _READ_BELOW:
            continue
        else:
            warn_ignored(task.name, key, value, stacklevel=5)

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
    chord = options.get("chord")
    if chord is not None:
        message["chord"] = {"id": str(chord["id"]), "index": int(chord["index"])}
    expires = options.get("expires", options.get("expiration", task.expires))
    if expires is not None:
        message["expires"] = expiry(expires)
    if options.get("django_task"):  # from the django.tasks backend only
        message["django_task"] = dict(options["django_task"])
    ignore_result = bool(options.get("ignore_result", task.ignore_result))
    if ignore_result != task.ignore_result:
        message["ignore_result"] = ignore_result

    policy = task.retry_policy
    if policy.enabled and "retry_delay" not in options and "retry_delay" not in task.options:
        factor = None
        if policy.jittered:
            factor = random.random() if jitter is None else jitter
        publish["retry_delay"] = policy.delay_expression(offset=retries, jitter=factor)

    _add_links(task, options, publish, message)
    if carried and carry:
        message["publish"] = carried
    return publish, headers, message, ignore_result


def _add_links(
    task: Task[..., Any],
    options: Mapping[str, Any],
    publish: dict[str, Any],
    message: dict[str, Any],
) -> None:
    """``link``/``link_error``: kept in the message, run from QStash's callbacks."""
    for key, publish_key, marker in (
        ("link", "callback", LINK_MARKER),
        ("link_error", "failure_callback", LINK_ERROR_MARKER),
    ):
        signatures = signature_list(options.get(key))
        if not signatures:
            continue
        if options.get(publish_key) or task.options.get(publish_key):
            raise TypeError(
                f"{task.name}: give {key}= or {publish_key}=, not both (QStash allows one "
                f"{publish_key.replace('_', ' ')} URL per message)"
            )
        message[key] = signatures
        publish[publish_key] = f"{conf.webhook_url}?{marker}"
        publish[f"{publish_key}_headers"] = {"Retries": str(CALLBACK_RETRIES)}


def next_attempt_options(request: TaskRequest, retries: int, limit: int | None) -> dict[str, Any]:
    """The call options of ``self.retry()``'s next attempt: what the current message carried."""
    carried = request.message_options
    options: dict[str, Any] = dict(carried.get("publish") or {})
    for key in ("link", "link_error", "expires", "shadow", "root_id", "parent_id", "chord"):
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


def record_published(prepared: PreparedMessage, message_id: str, sender: Any) -> None:
    """After a publish: the result store's PENDING record and the ``message_published`` hook."""
    store = get_result_store()
    if store is not None and not prepared.ignore_result:
        store.record_published(message_id, prepared.task_name, prepared.args, prepared.kwargs)
    send_robust(
        message_published,
        sender,
        message_id=message_id,
        task_name=prepared.task_name,
        args=prepared.args,
        kwargs=prepared.kwargs,
    )


def register_interceptor(interceptor: PublishInterceptor) -> None:
    """Consult ``interceptor`` before every task publish (idempotent)."""
    if interceptor not in _interceptors:
        _interceptors.append(interceptor)


def unregister_interceptor(interceptor: PublishInterceptor) -> None:
    if interceptor in _interceptors:
        _interceptors.remove(interceptor)


def intercept(messages: Sequence[PreparedMessage]) -> list[str] | None:
    """The ids the first interceptor that takes ``messages`` gives them; None if none does."""
    for interceptor in tuple(_interceptors):
        taken = interceptor(messages)
        if taken is not None:
            return list(taken)
    return None


def has_interceptors() -> bool:
    return bool(_interceptors)


def dispatch(
    messages: Sequence[PreparedMessage],
    senders: Sequence[Any] | None,
    *,
    batch: bool = False,
) -> list[str]:
    """The one place messages are sent from synchronous code: unless an interceptor (the
    outbox) takes them, send them (``batch``: in one batch request) and, for task messages
    (``senders`` given), record them; returns the ids, in order."""
    if not batch and len(messages) == 1:
        return [dispatch_one(messages[0], None if senders is None else senders[0])]
    taken = intercept(messages)  # by the outbox, when installed
    if taken is not None:
        return taken
    message_ids = publisher.send_batch(messages)
    if senders is not None:
        for message_id, prepared, sender in zip(message_ids, messages, senders, strict=True):
            record_published(prepared, message_id, sender)
    return message_ids


def dispatch_one(prepared: PreparedMessage, sender: Any | None) -> str:
    """:func:`dispatch` of one message (every ``.delay()``: no lists built around it)."""
    if _interceptors:  # the outbox, when installed
        taken = intercept([prepared])
        if taken is not None:
            return taken[0]
    message_id = publisher.send(prepared)
    if sender is not None:
        record_published(prepared, message_id, sender)
    return message_id


async def adispatch(
    messages: Sequence[PreparedMessage],
    senders: Sequence[Any] | None,
    *,
    batch: bool = False,
) -> list[str]:
    """:func:`dispatch` for async code: sent by the event loop's client. Interceptors write to
    the database, so they are consulted in a thread, and only when one is registered."""
    from django_qstash import aio  # the async client: a sync process never loads it

    if _interceptors:
        taken = await sync_to_async(intercept)(messages)
        if taken is not None:
            return taken
    if not batch and len(messages) == 1:
        message_ids = [await aio.send(messages[0])]
    else:
        message_ids = await aio.send_batch(messages)
    if senders is not None:
        for message_id, prepared, sender in zip(message_ids, messages, senders, strict=True):
            await aio.record_published(prepared, message_id, sender)
    return message_ids
