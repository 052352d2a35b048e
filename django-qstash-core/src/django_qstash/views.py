"""The webhook QStash delivers to: verify, decode, dispatch, and answer so QStash does the right
thing.

Answers (every one with a small JSON body that says why):

* 200: the task succeeded, was retried by republishing, had already succeeded, or expired
  (``expires``: acknowledged and recorded as expired, not run).
* 500: the task raised and may succeed later (QStash retries).
* 503: the result store could not be reached before running; nothing ran (QStash retries).
* 409: another delivery of the same message is running now (QStash retries).
* 489 + ``Upstash-NonRetryable-Error: true``: retrying cannot help (unknown task, malformed
  message, unknown envelope version, arguments that do not fit the task), or the task's own
  retry rules say stop (an exception ``autoretry_for`` does not list; ``retry()`` past
  ``max_retries``), or the message is out of QStash retries (its last attempt failed).
* 401: missing or invalid signature; 403: a replayed signature. Nothing runs.
* 405 / 413 / 415: not a POST / body too large / not JSON.

QStash's callbacks for ``link``/``link_error`` (and chains) arrive at the same URL with the
query string ``django_qstash=link`` or ``django_qstash=link_error``; they publish the next step
(see ``callbacks.continue_from_callback``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from django_qstash import callbacks, chords, envelope, receiving, runner, signals, signing, states
from django_qstash.conf import conf
from django_qstash.discovery.paths import find_task
from django_qstash.exceptions import MalformedMessage, PublishError, TaskNotRegistered
from django_qstash.options import has_expired
from django_qstash.signatures import CALLBACK_MARKERS
from django_qstash.store import ClaimDecision, Delivery, ResultStore
from django_qstash.store_registry import get_result_store

logger = logging.getLogger("django_qstash")

NON_RETRYABLE = 489
NON_RETRYABLE_PHRASE = "Non-Retryable Error"


_django_json = DjangoJSONEncoder()


def _jsonable(value: Any) -> Any:
    # Dates, decimals and UUIDs as Django's JSON encoder writes them; anything else as its repr,
    # so a return value that is not JSON never fails a delivery that already ran.
    try:
        return _django_json.default(value)
    except TypeError:
        return repr(value)


# Strict JSON (no NaN/Infinity) so that QStash and callbacks can parse every answer.
_encoder = json.JSONEncoder(default=_jsonable, allow_nan=False)


def _answer(status: int, reason: str, **extra: Any) -> HttpResponse:
    body: dict[str, Any] = {"status": reason}
    body.update(extra)
    try:
        content = _encoder.encode(body)
    except (ValueError, RecursionError):  # a circular or NaN result: keep the answer, not the value
        content = _encoder.encode({k: repr(v) if k == "result" else v for k, v in body.items()})
    response = HttpResponse(content.encode(), content_type="application/json", status=status)
    if status == NON_RETRYABLE:
        response["Upstash-NonRetryable-Error"] = "true"
        # 489 is QStash's own code: without a phrase Django logs "Unknown Status Code".
        response.reason_phrase = NON_RETRYABLE_PHRASE
    return response


def _refuse(reason: str, error: str, message_id: str | None = None) -> HttpResponse:
    # One line per refused delivery, naming the message, so it can be found in QStash's logs.
    logger.warning(
        "django-qstash refused message %s (%s): %s", message_id or "(no id)", reason, error
    )
    return _answer(NON_RETRYABLE, reason, error=error)


# Not wrapped in ATOMIC_REQUESTS: the result store's claim must commit before the task runs, and
# a task's own writes must not be rolled back by a failure of the bookkeeping after it.
@csrf_exempt
@transaction.non_atomic_requests
def qstash_webhook_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = _answer(405, "method_not_allowed", error="the webhook accepts POST only")
        response["Allow"] = "POST"
        return response
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = conf.MAX_BODY_SIZE
    if length > limit:
        return _answer(413, "too_large", error=f"the body is larger than {limit} bytes")
    query = request.META.get("QUERY_STRING")
    if query and query in CALLBACK_MARKERS:
        # QStash's callback after a task with link/link_error: its body is QStash's JSON.
        return _callback(request, query, limit)
    content_type = request.content_type or ""
    if content_type != "application/json":
        return _answer(
            415, "unsupported_media_type", error=f"expected application/json, got {content_type!r}"
        )
    body = request.body
    if len(body) > limit:
        return _answer(413, "too_large", error=f"the body is larger than {limit} bytes")

    meta = request.META  # not request.headers: building that mapping costs more than the rest
    try:
        claims = signing.verify(
            meta.get("HTTP_UPSTASH_SIGNATURE"),
            body,
            url=conf.webhook_url,
            keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
            leeway=conf.CLOCK_TOLERANCE,
        )
    except signing.SignatureError as exc:
        logger.warning(
            "django-qstash refused message %s (invalid_signature): %s",
            meta.get("HTTP_UPSTASH_MESSAGE_ID") or "(no id)",
            exc,
        )
        return _answer(401, "invalid_signature", error=str(exc))

    message_id = meta.get("HTTP_UPSTASH_MESSAGE_ID")
    try:
        message = envelope.decode(body)
        task = find_task(message.task)  # registered, or by module path in an installed app
    except MalformedMessage as exc:
        return _refuse("malformed_message", str(exc), message_id)
    except TaskNotRegistered as exc:
        return _refuse("unknown_task", str(exc), message_id)
    try:
        task.bind_arguments(message.args, message.kwargs)
    except TypeError as exc:
        return _refuse("bad_arguments", str(exc), message_id)

    options = message.options
    delivery = Delivery(
        message_id=message_id or receiving.fallback_message_id(claims),
        task_name=task.name,
        args=message.args,
        kwargs=message.kwargs,
        options=options,
        retried=receiving.header_count(meta, "HTTP_UPSTASH_RETRIED"),
        max_retries=options.get("max_retries") if options else None,
        schedule_id=meta.get("HTTP_UPSTASH_SCHEDULE_ID") or None,
        signature_id=claims.get("jti"),
        signature_expires=claims.get("exp"),
    )
    if signals.task_received.receivers:  # skip the dispatch machinery when nobody listens
        signals.send_robust(signals.task_received, task, delivery=delivery)
    if options and "expires" in options and has_expired(options["expires"], time.time()):
        return _expire(task, delivery)
    return _run(task, delivery)


def _callback(request: HttpRequest, marker: str, limit: int) -> HttpResponse:
    """Continue a canvas (link, link_error, chain) from QStash's (failure) callback."""
    body = request.body
    if len(body) > limit:
        return _answer(413, "too_large", error=f"the body is larger than {limit} bytes")
    try:
        # QStash signs a callback for the callback URL: the webhook URL from settings plus the
        # marker, which the signature covers (never the Host header).
        signing.verify(
            request.META.get("HTTP_UPSTASH_SIGNATURE"),
            body,
            url=f"{conf.webhook_url}?{marker}",
            keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
            leeway=conf.CLOCK_TOLERANCE,
        )
    except signing.SignatureError as exc:
        logger.warning("django-qstash rejected a callback signature: %s", exc)
        return _answer(401, "invalid_signature", error=str(exc))
    try:
        published = callbacks.continue_from_callback(marker, body)
    except callbacks.CallbackIgnored as exc:
        return _answer(200, "callback_ignored", detail=str(exc))
    except MalformedMessage as exc:
        return _refuse("malformed_callback", str(exc))
    except TaskNotRegistered as exc:
        return _refuse("unknown_task", str(exc))
    except PublishError as exc:
        logger.error("django-qstash could not publish the next step of a canvas: %s", exc)
        return _answer(500, "publish_failed", error=str(exc))
    except (TypeError, ValueError, NotImplementedError) as exc:
        return _refuse("bad_signature_arguments", str(exc))
    return _answer(200, "linked", published=published)


def _duplicate(store: ResultStore, delivery: Delivery) -> HttpResponse:
    """A redelivery of a message that already succeeded: not run again.

    When the message has a ``link``, the stored result goes in the answer: if QStash never got
    the first answer, this is the callback that continues the canvas (the linked publishes are
    deduplicated, so a second callback publishes nothing new).
    """
    if delivery.options and delivery.options.get("chord"):
        # The first delivery may have run the task but not counted it: counting is idempotent.
        try:
            stored_result = store.get(delivery.message_id)
        except Exception:
            return _answer(503, "store_unavailable", error="could not read the stored result")
        if stored_result is not None and stored_result.status == states.SUCCESS:
            failed = _count_toward_chord(delivery, succeeded=True, value=stored_result.result)
            if failed is not None:
                return failed
    if delivery.options and delivery.options.get("link"):
        try:
            stored = store.get(delivery.message_id)
        except Exception:
            logger.exception("django-qstash could not read the result of %s", delivery.message_id)
            stored = None
        if stored is not None and stored.status == states.SUCCESS:
            return _answer(200, "duplicate", task_id=delivery.message_id, result=stored.result)
    return _answer(200, "duplicate", task_id=delivery.message_id)


def _count_toward_chord(delivery: Delivery, *, succeeded: bool, value: Any) -> HttpResponse | None:
    """Report a header task's final outcome to its chord; a 500 (QStash redelivers, and the
    redelivery reports again) when that could not be done."""
    try:
        chords.report(delivery, succeeded=succeeded, value=value)
    except Exception as exc:
        logger.exception("django-qstash could not count %s toward its chord", delivery.message_id)
        return _answer(500, "chord_failed", error=f"{type(exc).__name__}: {exc}")
    return None


def _expire(task: Any, delivery: Delivery) -> HttpResponse:
    """An expired message is acknowledged, recorded as expired when the store can, not run."""
    logger.info(
        "Task %s[%s] expired at %s; not run",
        task.name,
        delivery.message_id,
        delivery.options.get("expires"),
    )
    store = get_result_store()
    record_expired = getattr(store, "record_expired", None)
    stored = True
    if record_expired is not None:
        try:
            record_expired(delivery)
        except Exception:
            stored = False
            logger.exception("django-qstash could not record that %s expired", delivery.message_id)
    return _answer(200, "expired", task_id=delivery.message_id, stored=stored)


def _run(task: Any, delivery: Delivery) -> HttpResponse:
    store = get_result_store()
    if store is not None:
        try:
            decision = store.claim(delivery)
        except Exception as exc:
            # Nothing ran: QStash retries once the database is back.
            logger.exception("django-qstash could not claim message %s", delivery.message_id)
            response = _answer(503, "store_unavailable", error=f"{type(exc).__name__}: {exc}")
            response["Retry-After"] = "5"
            return response
        if decision is ClaimDecision.ALREADY_SUCCEEDED:
            return _duplicate(store, delivery)
        if decision is ClaimDecision.REPLAYED:
            logger.warning("django-qstash refused a replayed signature for %s", delivery.message_id)
            return _answer(403, "replayed", error="this signed request was already received")
        if decision is ClaimDecision.IN_PROGRESS:
            return _answer(409, "in_progress", task_id=delivery.message_id)

    outcome = runner.execute(task, delivery)

    stored = True
    if store is not None:
        try:
            _record(store, task, delivery, outcome)
        except Exception:
            # The task already ran: answering non-2xx would run it again. The outcome is kept in
            # the log and in this answer (QStash keeps it in its logs and passes it to callbacks).
            stored = False
            logger.exception(
                "django-qstash could not store the outcome of %s[%s]: %s %r",
                task.name,
                delivery.message_id,
                outcome.status,
                outcome.value if outcome.exception is None else outcome.exception,
            )

    if "chord" in delivery.options and (outcome.status == states.SUCCESS or outcome.final):
        failed = _count_toward_chord(
            delivery, succeeded=outcome.status == states.SUCCESS, value=outcome.value
        )
        if failed is not None:
            return failed
    if outcome.status == states.SUCCESS:
        return _answer(
            200, "success", task_id=delivery.message_id, result=outcome.value, stored=stored
        )
    if outcome.status == states.RETRY:
        retry = outcome.retry
        return _answer(
            200,
            "retry",
            task_id=delivery.message_id,
            retry_id=retry.message_id if retry is not None else None,
            stored=stored,
        )
    error = outcome.exception
    # 489 when the task's own rules say stop although QStash has retries left (an exception
    # autoretry_for does not list, retry() past max_retries), or when the message's known retry
    # budget is spent; otherwise a retryable 500.
    out_of_retries = outcome.final and delivery.max_retries is not None
    return _answer(
        NON_RETRYABLE if outcome.stop_retrying or out_of_retries else 500,
        "failure",
        task_id=delivery.message_id,
        error=f"{type(error).__name__}: {error}",
        final=outcome.final,
        stored=stored,
    )


def _record(store: ResultStore, task: Any, delivery: Delivery, outcome: runner.Outcome) -> None:
    if outcome.status == states.SUCCESS:
        if not delivery.options.get("ignore_result", task.ignore_result):
            store.record_success(delivery, outcome.value, outcome.duration)
        else:
            store.record_success(delivery, None, outcome.duration)
    elif outcome.status == states.RETRY:
        store.record_retry(delivery, outcome.exception, None)
    else:
        assert outcome.exception is not None
        store.record_failure(
            delivery,
            outcome.exception,
            outcome.traceback or "",
            final=outcome.final,
            duration=outcome.duration,
        )
