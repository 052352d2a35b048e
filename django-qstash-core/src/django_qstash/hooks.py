"""The public hook API: everything the results and schedules apps (and your code) may use.

Other modules of ``django_qstash`` are private. This module offers

* **signals** sent around every delivery: :data:`task_received`, :data:`task_started`,
  :data:`task_succeeded`, :data:`task_failed`, :data:`task_retried`, and
  :data:`message_published` after a publish. Each is sent with ``sender`` = the task object and
  ``delivery`` = a :class:`Delivery`. A receiver that raises is logged and never changes the
  answer to QStash.
* the **result store protocol** (:class:`ResultStore`): when a store is registered (the results
  app registers one in ``AppConfig.ready()``), the webhook asks it before running a task
  (:meth:`ResultStore.claim`) and reports the outcome after; :class:`django_qstash.AsyncResult`
  reads from it.
* the **chord store protocol** (:class:`ChordStore`): the results app registers one
  (:func:`register_chord_store`) so that ``chord`` can count header outcomes toward a join;
  without one, ``chord`` raises ``CanvasNotSupported``.
* the **publish pipeline**: :func:`prepare_message` turns a task call into a
  :class:`PreparedMessage` exactly as ``.delay()`` would (the task's flow control, retry delay,
  headers, ...), and :func:`publish_prepared` sends one and records it (result store,
  :data:`message_published`); :func:`publish_prepared_batch` does the same for many in one
  request.
* the **publish interceptor**: :func:`register_publish_interceptor` lets an app (the outbox)
  take the messages of ``.delay()``/``.apply_async()``/``group``/the Tasks backend just before
  they are sent, to send them later through :func:`publish_prepared`.
* **signatures**: :func:`verify_signature` checks a QStash ``Upstash-Signature`` for a view of
  an app's own (the outbox's drain endpoint).
* **accessors** for the task registry, the message builder, the shared QStash client, the
  webhook URL, and helpers: :func:`translate_sdk_error` (what the QStash SDK raised, as status
  and text), :func:`duration_seconds` / :func:`whole_seconds` (the one duration parser), and
  :class:`LazySettings`, the base of every app's ``conf`` object, with :class:`setting`, how
  each of its settings is declared.

The task objects :func:`get_task` and :func:`registered_tasks` return may be used through this
surface only: ``name`` (the registered name), ``options`` (the decorator's options, read-only),
``bind_arguments(args, kwargs)`` (raises TypeError when the arguments do not fit), and
``delay(*args, **kwargs)`` / ``apply_async(args, kwargs, **options)``. Everything else on a
task is private to core.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django_qstash.lazy_names import lazy_names

# The results and schedules apps import this module when Django sets up and read only a few of
# its names then (LazySettings, the signals, register_result_store, ...). So importing it imports
# nothing of core: each name below is imported from its module (_EXPORTS) when it is first read,
# and the functions further down import what they use when they are called. Type checkers and
# IDEs read these imports.
if TYPE_CHECKING:
    from qstash import QStash

    from django_qstash.conf import DEFAULT_RESULT_TTL, LazySettings, Settings, setting
    from django_qstash.durations import duration_seconds, whole_seconds
    from django_qstash.exceptions import (
        ArgumentsNotSerializable,
        DjangoQStashError,
        MalformedMessage,
        MaxRetriesExceededError,
        PublishError,
        ResultBackendNotConfigured,
        Retry,
        TaskNotRegistered,
        TaskRevokedError,
    )
    from django_qstash.messages import PreparedMessage, PublishInterceptor
    from django_qstash.sdk_errors import SdkFailure, translate_sdk_error
    from django_qstash.signals import (
        message_published,
        send_robust,
        task_failed,
        task_received,
        task_retried,
        task_started,
        task_succeeded,
    )
    from django_qstash.signing import SignatureError
    from django_qstash.store import (
        ChordJoin,
        ChordStore,
        ClaimDecision,
        Delivery,
        ResultStore,
        StoredResult,
    )
    from django_qstash.store_registry import (
        get_chord_store,
        get_result_store,
        register_chord_store,
        register_result_store,
        unregister_result_store,
    )
    from django_qstash.task import Task

__all__ = [
    "DEFAULT_RESULT_TTL",
    "ArgumentsNotSerializable",
    "ChordJoin",
    "ChordStore",
    "ClaimDecision",
    "Delivery",
    "DjangoQStashError",
    "LazySettings",
    "MalformedMessage",
    "MaxRetriesExceededError",
    "PreparedMessage",
    "PublishError",
    "PublishInterceptor",
    "ResultBackendNotConfigured",
    "ResultStore",
    "Retry",
    "SdkFailure",
    "SignatureError",
    "StoredResult",
    "TaskNotRegistered",
    "TaskRevokedError",
    "build_message",
    "core_settings",
    "duration_seconds",
    "get_chord_store",
    "get_qstash_client",
    "get_result_store",
    "get_task",
    "message_published",
    "prepare_message",
    "publish_message",
    "publish_prepared",
    "publish_prepared_batch",
    "register_chord_store",
    "register_publish_interceptor",
    "register_result_store",
    "registered_tasks",
    "send_robust",
    "setting",
    "task_failed",
    "task_received",
    "task_retried",
    "task_started",
    "task_succeeded",
    "translate_sdk_error",
    "unregister_publish_interceptor",
    "unregister_result_store",
    "verify_signature",
    "webhook_url",
    "whole_seconds",
]

#: The module each re-exported name lives in; a name is imported from it when first read.
_EXPORTS = {
    "django_qstash.conf": ("DEFAULT_RESULT_TTL", "LazySettings", "setting"),
    "django_qstash.durations": ("duration_seconds", "whole_seconds"),
    "django_qstash.exceptions": (
        "ArgumentsNotSerializable",
        "DjangoQStashError",
        "MalformedMessage",
        "MaxRetriesExceededError",
        "PublishError",
        "ResultBackendNotConfigured",
        "Retry",
        "TaskNotRegistered",
        "TaskRevokedError",
    ),
    "django_qstash.messages": ("PreparedMessage", "PublishInterceptor"),
    "django_qstash.sdk_errors": ("SdkFailure", "translate_sdk_error"),
    "django_qstash.signals": (
        "message_published",
        "send_robust",
        "task_failed",
        "task_received",
        "task_retried",
        "task_started",
        "task_succeeded",
    ),
    "django_qstash.signing": ("SignatureError",),
    "django_qstash.store": (
        "ChordJoin",
        "ChordStore",
        "ClaimDecision",
        "Delivery",
        "ResultStore",
        "StoredResult",
    ),
    "django_qstash.store_registry": (
        "get_chord_store",
        "get_result_store",
        "register_chord_store",
        "register_result_store",
        "unregister_result_store",
    ),
}
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}

# Hidden from type checkers, which read the imports above: with a module __getattr__ in view,
# they would accept any attribute of this module.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_names(__name__, _HOMES, globals(), __all__)


# ------------------------------------------------------------------------------ accessors


def core_settings() -> Settings:
    """Core's settings (``conf``), for the settings the apps share with core
    (``RESULT_TTL``, ``CLOCK_TOLERANCE``): their defaults are declared once, in core."""
    from django_qstash.conf import conf

    return conf


def registered_tasks() -> dict[str, Task[..., Any]]:
    """All discovered tasks by registered name."""
    from django_qstash.registry import registry

    return dict(registry.items())


def get_task(name: str) -> Task[..., Any]:
    """The task registered under ``name``; raises :class:`TaskNotRegistered`."""
    from django_qstash.registry import registry

    return registry.get(name)


def build_message(
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """The JSON body of a delivery of ``task_name``, exactly as ``.delay()`` would send it."""
    from django_qstash import envelope

    return envelope.build(task_name, args, kwargs, options)


def get_qstash_client() -> QStash:
    """The process-wide ``qstash.QStash`` client, configured from settings."""
    from django_qstash import publisher

    return publisher.get_client()


def webhook_url() -> str:
    """The absolute webhook URL built from DJANGO_QSTASH_DOMAIN + DJANGO_QSTASH_WEBHOOK_PATH."""
    from django_qstash.conf import conf

    return conf.webhook_url


def publish_message(body: bytes, **options: Any) -> str:
    """Publish a prepared body to the webhook; returns the QStash message id."""
    from django_qstash import publisher

    return publisher.publish(body, **options)


def prepare_message(
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    carry: bool = True,
    jitter: float | None = None,
) -> PreparedMessage:
    """The message ``get_task(task_name).apply_async(args, kwargs, **options)`` would publish.

    Sends nothing. The task's own defaults apply (``rate_limit`` flow control, the autoretry
    delay, ``time_limit``, headers, ...), then ``options`` (the options ``apply_async`` takes).
    ``carry=False`` leaves the per-call publish options out of the message body (a schedule's
    body stays the plain ``.delay()`` envelope); ``jitter`` fixes the retry-delay jitter factor
    (0..1) so that the same call prepares the same message. Raises :class:`TaskNotRegistered`,
    TypeError/ValueError for a bad option, :class:`ArgumentsNotSerializable`.
    """
    from django_qstash import pipeline
    from django_qstash.registry import registry

    task = registry.get(task_name)
    return pipeline.prepare(
        task, list(args), dict(kwargs or {}), options, carry=carry, jitter=jitter
    )


def publish_prepared(prepared: PreparedMessage) -> str:
    """Publish a prepared message, record it (result store, :data:`message_published`), and
    return its QStash message id. Raises :class:`PublishError` when nothing was enqueued."""
    from django_qstash import pipeline, publisher
    from django_qstash.registry import registry

    message_id = publisher.send(prepared)
    sender = registry.get(prepared.task_name) if prepared.task_name in registry else None
    pipeline.record_published(prepared, message_id, sender)
    return message_id


def publish_prepared_batch(messages: Sequence[PreparedMessage]) -> list[str]:
    """:func:`publish_prepared` for many messages in one batch request; their message ids, in
    order. Raises :class:`PublishError` when QStash refused the batch (nothing was enqueued)."""
    from django_qstash import pipeline, publisher
    from django_qstash.registry import registry

    message_ids = publisher.send_batch(messages)
    for message_id, prepared in zip(message_ids, messages, strict=True):
        sender = registry.get(prepared.task_name) if prepared.task_name in registry else None
        pipeline.record_published(prepared, message_id, sender)
    return message_ids


def register_publish_interceptor(interceptor: PublishInterceptor) -> None:
    """Call ``interceptor(messages)`` before task messages are sent.

    It returns None to let them be sent now, or takes them (it then sends them itself later,
    through :func:`publish_prepared`) and returns the id each one's result gets, in order.
    """
    from django_qstash import pipeline

    pipeline.register_interceptor(interceptor)


def unregister_publish_interceptor(interceptor: PublishInterceptor) -> None:
    from django_qstash import pipeline

    pipeline.unregister_interceptor(interceptor)


def verify_signature(token: str | None, body: bytes, url: str) -> dict[str, Any]:
    """The claims of a valid QStash signature of ``body`` sent to ``url`` (the current or the
    next signing key, DJANGO_QSTASH_CLOCK_TOLERANCE); raises :class:`SignatureError`."""
    from django_qstash import signing
    from django_qstash.conf import conf

    return signing.verify(
        token,
        body,
        url=url,
        keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
        leeway=conf.CLOCK_TOLERANCE,
    )
