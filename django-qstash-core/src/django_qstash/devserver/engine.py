"""What happens to a message: creation, attempt outcomes, retries, the DLQ, callbacks, logs.

Every state change is one SQLite transaction, so a crash at any point leaves a message either
pending (delivered again after a restart) or finished, never lost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django_qstash.devserver import ids
from django_qstash.devserver.clock import now_ms
from django_qstash.devserver.config import DEDUP_WINDOW_MS, DevServerConfig
from django_qstash.devserver.delivery import AttemptResult
from django_qstash.devserver.durations import (
    RetryDelayExpression,
    default_backoff,
    retry_after_seconds,
)
from django_qstash.devserver.flow import FlowLimiter
from django_qstash.devserver.message import (
    KIND_CALLBACK,
    KIND_FAILURE_CALLBACK,
    KIND_MESSAGE,
    Message,
)
from django_qstash.devserver.options import Destination, callback_message
from django_qstash.devserver.store import DlqEntry, Store, StoredMessage
from django_qstash.devserver.workflows import TO_CALLBACK, failure_callback_fields

logger = logging.getLogger("django_qstash.devserver")

# Log states, spelled as the SDKs spell them: CANCELED, not CANCELLED.
CREATED = "CREATED"
ACTIVE = "ACTIVE"
DELIVERED = "DELIVERED"
ERROR = "ERROR"
RETRY = "RETRY"
FAILED = "FAILED"
CANCEL_REQUESTED = "CANCEL_REQUESTED"
CANCELED = "CANCELED"


class NotFound(LookupError):
    """An id or name the server does not know (answered with 404)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class Engine:
    def __init__(self, store: Store, config: DevServerConfig, flow: FlowLimiter) -> None:
        self.store = store
        self.config = config
        self.flow = flow
        #: Called after anything that may make a message deliverable (set by the dispatcher).
        self.wake: Callable[[], None] = lambda: None
        #: Told about every message that failed for good (set by the server: workflow runs).
        self.workflow_failed: Callable[[Message, int], None] = lambda message, now: None

    # ---------------------------------------------------------------- logs

    def _event(
        self,
        message: Message,
        state: str,
        time_ms: int,
        body: bytes | None = None,
        /,
        **extra: Any,
    ) -> None:
        data = message.api_fields()
        data["time"] = time_ms
        data["state"] = state
        if message.retry_delay:
            data["retryDelayExpr"] = message.retry_delay
        if body is not None and "body" not in message.redact:
            data["body"] = _b64(body)
        data.update({k: v for k, v in extra.items() if v is not None})
        self.store.add_event(time_ms, message, state, data)

    # ---------------------------------------------------------------- creating messages

    def create(self, message: Message, body: bytes, time_ms: int | None = None) -> str:
        """Store a new message, log CREATED and wake the dispatcher. Returns its id."""
        now = now_ms() if time_ms is None else time_ms
        if not message.id:
            message.id = ids.message_id()
        message.created_ms = now
        if not message.not_before_ms:
            message.not_before_ms = now
        with self.store.transaction():
            if message.queue_name and self.store.get_queue(message.queue_name) is None:
                self.store.upsert_queue(message.queue_name, now_ms=now)
            self.store.insert_message(message, body, max(now, message.not_before_ms))
            self._event(message, CREATED, now, body)
        if message.flow_key:
            self.flow.configure(
                message.flow_key, message.flow_parallelism, message.flow_rate, message.flow_period
            )
        self.wake()
        return message.id

    def _dedup_key(self, message: Message, body: bytes, per_endpoint: bool) -> str | None:
        scope = f"|{message.url}" if per_endpoint else ""
        if message.deduplication_id:
            return f"id:{message.deduplication_id}{scope}"
        if message.content_based_deduplication:
            digest = hashlib.sha256()
            digest.update(message.url.encode())
            for name in sorted(message.headers, key=str.lower):
                digest.update(f"\n{name.lower()}:{','.join(message.headers[name])}".encode())
            digest.update(b"\n\n" + body)
            return "content:" + digest.hexdigest()
        return None

    def publish(
        self, template: Message, body: bytes, destination: Destination, time_ms: int | None = None
    ) -> list[dict[str, Any]]:
        """Publish to a URL (one message) or a URL group (one per endpoint), deduplicating."""
        now = now_ms() if time_ms is None else time_ms
        targets: list[tuple[str, str | None, str | None]]
        if destination.url is not None:
            targets = [(destination.url, None, None)]
        else:
            assert destination.url_group is not None
            topic = self.store.get_topic(destination.url_group)
            if topic is None or not topic.endpoints:
                raise NotFound(f"url group {destination.url_group!r} not found")
            targets = [(e["url"], topic.name, e.get("name") or None) for e in topic.endpoints]
        results: list[dict[str, Any]] = []
        for url, topic_name, endpoint_name in targets:
            # A single destination keeps an id given in advance (a workflow step's).
            message = template.copy(
                url=url,
                id=template.id if destination.url is not None else "",
                topic_name=topic_name,
                endpoint_name=endpoint_name,
            )
            result: dict[str, Any] = {"url": url} if topic_name else {}
            with self.store.transaction():
                key = self._dedup_key(message, body, per_endpoint=topic_name is not None)
                existing = self.store.find_duplicate(key, now) if key else None
                if existing is not None:
                    result.update(messageId=existing, deduplicated=True)
                else:
                    result["messageId"] = self.create(message, body, now)
                    if key:
                        self.store.remember_dedup(key, message.id, now + DEDUP_WINDOW_MS, now)
            results.append(result)
        return results

    # ---------------------------------------------------------------- attempts

    def start_attempts(self, batch: list[StoredMessage], time_ms: int) -> None:
        with self.store.transaction():
            self.store.mark_in_flight([stored.message.id for stored in batch])
            for stored in batch:
                self._event(stored.message, ACTIVE, time_ms)

    def retry_delay_seconds(self, stored: StoredMessage, result: AttemptResult) -> float:
        message = stored.message
        seconds = retry_after_seconds(result.flat_headers()) if result.status else None
        if seconds is None:
            if message.retry_delay:
                # `retried` is 0 for the first retry, as in QStash's expressions.
                seconds = RetryDelayExpression(message.retry_delay).milliseconds(stored.retried)
                seconds /= 1000
            else:
                seconds = default_backoff(stored.retried + 1)
        return seconds * self.config.retry_scale

    def complete(self, stored: StoredMessage, result: AttemptResult) -> None:
        """Record how an attempt went: delivered, retry later, or failed for good."""
        now = now_ms()
        message = stored.message
        response = {
            "responseStatus": result.status,
            "responseHeader": result.headers or None,
            "responseBody": _text(result.body) if result.body else None,
            "error": result.error,
        }
        with self.store.transaction():
            status = self.store.message_status(message.id)
            if status is None:
                return
            _in_flight, cancel_requested = status
            if cancel_requested:
                self.store.delete_message(message.id)
                self._event(message, CANCELED, now)
            elif result.ok:
                logger.info(
                    "delivered %s to %s %s: %d%s",
                    message.id,
                    message.method,
                    message.url,
                    result.status,
                    f" (retry {stored.retried})" if stored.retried else "",
                )
                self.store.delete_message(message.id)
                self._event(message, DELIVERED, now, **response)
                if message.callback and message.kind == KIND_MESSAGE:
                    self._make_callback(stored, result, None, now)
                self._schedule_state(message, "SUCCESS")
            elif result.non_retryable or stored.retried >= message.retries:
                self._fail(stored, result, now, response)
            else:
                next_ms = now + int(self.retry_delay_seconds(stored, result) * 1000)
                self.store.reschedule(message.id, retried=stored.retried + 1, due_ms=next_ms)
                if not response["error"]:
                    response["error"] = f"the destination answered {result.status}"
                logger.warning(
                    "attempt %d of %s to %s failed (%s); retrying in %.3gs",
                    stored.retried + 1,
                    message.id,
                    message.url,
                    response["error"],
                    (next_ms - now) / 1000,
                )
                self._event(message, RETRY, now, nextDeliveryTime=next_ms, **response)
        self.wake()

    def _fail(
        self, stored: StoredMessage, result: AttemptResult, now: int, response: dict[str, Any]
    ) -> None:
        message = stored.message
        self.store.delete_message(message.id)
        dlq_id = ids.dlq_id()
        error = result.error or (
            "the destination answered 489 with Upstash-NonRetryable-Error"
            if result.non_retryable
            else f"the destination answered {result.status}; no retries left"
        )
        self.store.add_dlq(
            DlqEntry(
                dlq_id=dlq_id,
                time_ms=now,
                message=message,
                body=stored.body,
                retried=stored.retried,
                response_status=result.status,
                response_headers=result.headers,
                response_body=result.body,
                error=error,
            )
        )
        response = {**response, "error": error}
        logger.warning(
            "%s to %s failed for good (%s): moved to the DLQ as %s",
            message.id,
            message.url,
            error,
            dlq_id,
        )
        self._event(message, FAILED, now, dlqId=dlq_id, **response)
        if message.failure_callback and message.kind == KIND_MESSAGE:
            self._make_callback(stored, result, dlq_id, now)
        if message.callback and message.workflow_call_type == TO_CALLBACK:
            # A workflow's context.call: the workflow goes on with the failed answer.
            self._make_callback(stored, result, None, now)
        self.workflow_failed(message, now)
        self._schedule_state(message, "FAIL")

    def _make_callback(
        self, stored: StoredMessage, result: AttemptResult, dlq_id: str | None, now: int
    ) -> None:
        """A (failure) callback is itself a signed message with retries, as in QStash."""
        source = stored.message
        failure = dlq_id is not None
        url = source.failure_callback if failure else source.callback
        assert url is not None
        config = source.failure_callback_headers if failure else source.callback_headers
        message = callback_message(config, url=url, source=source)
        message.kind = KIND_FAILURE_CALLBACK if failure else KIND_CALLBACK
        message.source_message_id = source.id
        message.workflow_run_id = source.workflow_run_id
        message.caller_ip = source.caller_ip
        message.not_before_ms = now + int(message.delay * 1000)
        payload: dict[str, Any] = {
            "status": result.status,
            "header": result.headers,
            "body": _b64(result.body),
            "retried": stored.retried or None,  # omitted when 0, as in real captures
            "maxRetries": source.retries,
            "dlqId": dlq_id,
            "sourceMessageId": source.id,
            "topicName": source.topic_name,
            "endpointName": source.endpoint_name,
            "url": source.url,
            "method": source.method,
            "sourceHeader": source.headers,
            "sourceBody": _b64(stored.body),
            "notBefore": source.not_before_ms,
            "createdAt": source.created_ms,
            "scheduleId": source.schedule_id,
            "callerIP": source.caller_ip,
        }
        if failure:
            payload.update(failure_callback_fields(source, stored.body))
        body = json_bytes({k: v for k, v in payload.items() if v is not None})
        self.create(message, body, now)

    def _schedule_state(self, message: Message, state: str) -> None:
        if not message.schedule_id or message.kind != KIND_MESSAGE:
            return
        schedule = self.store.get_schedule(message.schedule_id)
        if schedule is not None and schedule.last_states and message.id in schedule.last_states:
            schedule.last_states[message.id] = state
            self.store.save_schedule(schedule)

    # ---------------------------------------------------------------- cancelling

    def cancel(self, message_id: str) -> bool:
        now = now_ms()
        with self.store.transaction():
            stored = self.store.get_message(message_id)
            if stored is None:
                return False
            self._event(stored.message, CANCEL_REQUESTED, now)
            if stored.in_flight:
                # Too late to stop this attempt; it is dropped when it ends.
                self.store.request_cancel(message_id)
            else:
                self.store.delete_message(message_id)
                self._event(stored.message, CANCELED, now)
        self.wake()
        return True

    def cancel_where(self, filters: dict[str, Any], count: int | None) -> int:
        messages = self.store.list_messages(filters, count)
        return sum(self.cancel(stored.message.id) for stored in messages)

    # ---------------------------------------------------------------- DLQ

    def retry_dlq(self, dlq_id: str) -> str:
        """Publish a DLQ entry again, as a new message, and drop it from the DLQ."""
        entry = self.store.get_dlq(dlq_id)
        if entry is None:
            raise NotFound(f"dlq message {dlq_id!r} not found")
        now = now_ms()
        with self.store.transaction():
            message = entry.message.copy(id="", not_before_ms=now, delay=0.0)
            message_id = self.create(message, entry.body, now)
            self.store.delete_dlq([dlq_id])
        return message_id


def json_bytes(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
