"""Dead letters: the messages QStash gave up on, read and acted on through the official SDK.

Everything goes through ``qstash.QStash(...).dlq`` (``list`` with its cursor, ``get``,
``delete``, ``delete_many``); nothing here needs a database. A *requeue* publishes the message
again (same destination, headers, retries and callbacks) and then deletes it from the DLQ. A
django-qstash message keeps its body; its envelope only learns which task id it continues
(``options.task_id``, as ``self.retry()`` does), so ``AsyncResult(<first id>)`` follows the
requeued run.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import fnmatch
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django_qstash import envelope
from django_qstash.exceptions import MalformedMessage

if TYPE_CHECKING:
    from qstash import QStash
    from qstash.dlq import DlqMessage

#: The DLQ API's largest page.
PAGE_SIZE = 100
#: Forwarded headers that QStash sets itself; publishing them again would be refused or wrong.
_OWN_HEADERS = frozenset({"content-type", "upstash-message-id", "upstash-retried"})
#: Log states that mark one failed delivery attempt.
_FAILED_ATTEMPT_STATES = frozenset({"ERROR", "FAILED"})


@dataclass
class DeadLetter:
    """One DLQ entry, with the django-qstash task it carries decoded (when it carries one)."""

    dlq_id: str
    message_id: str
    url: str
    created_at: datetime.datetime
    response_status: int
    response_body: str
    max_retries: int
    body: bytes
    headers: dict[str, list[str]] = field(default_factory=dict)
    callback: str | None = None
    failure_callback: str | None = None
    queue: str | None = None
    schedule_id: str | None = None
    label: str | None = None
    #: The decoded envelope; ``None`` for a message that is not a django-qstash task.
    task_name: str | None = None
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    #: Failed delivery attempts, when the logs were asked (``attempts_of``).
    attempts: int | None = None

    @property
    def task_id(self) -> str:
        """The Celery task id this message runs under: its own id unless it continues another."""
        return str(self.options.get("task_id") or self.message_id)

    @property
    def error(self) -> str:
        """The last answer's reason, from django-qstash's JSON body when there is one."""
        try:
            answer = json.loads(self.response_body)
        except ValueError:
            return self.response_body
        if isinstance(answer, dict) and isinstance(answer.get("error"), str):
            return str(answer["error"])
        return self.response_body

    def to_json(self) -> dict[str, Any]:
        return {
            "dlq_id": self.dlq_id,
            "message_id": self.message_id,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "args": self.args,
            "kwargs": self.kwargs,
            "url": self.url,
            "created_at": self.created_at.isoformat(),
            "response_status": self.response_status,
            "response_body": self.response_body,
            "error": self.error,
            "max_retries": self.max_retries,
            "attempts": self.attempts,
            "queue": self.queue,
            "schedule_id": self.schedule_id,
            "label": self.label,
        }


def _from_ms(value: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.timezone.utc)


def _body_of(message: DlqMessage) -> bytes:
    if message.body is not None:
        return message.body.encode()
    if message.body_base64:
        return base64.b64decode(message.body_base64)
    return b""


def _response_of(message: DlqMessage) -> str:
    if message.response_body is not None:
        return message.response_body
    if message.response_body_base64:
        return base64.b64decode(message.response_body_base64).decode(errors="replace")
    return ""


def from_sdk(message: DlqMessage) -> DeadLetter:
    """A :class:`DeadLetter` from the SDK's ``DlqMessage``."""
    letter = DeadLetter(
        dlq_id=message.dlq_id,
        message_id=message.message_id,
        url=message.url,
        created_at=_from_ms(message.created_at),
        response_status=message.response_status,
        response_body=_response_of(message),
        max_retries=message.max_retries,
        body=_body_of(message),
        headers=dict(message.headers or {}),
        callback=message.callback,
        failure_callback=message.failure_callback,
        queue=message.queue,
        schedule_id=message.schedule_id,
        label=message.label,
    )
    try:
        decoded = envelope.decode(letter.body)
    except MalformedMessage:
        return letter  # not a django-qstash message: shown and acted on as it is
    letter.task_name = decoded.task
    letter.args = decoded.args
    letter.kwargs = decoded.kwargs
    letter.options = dict(decoded.options)
    return letter


@dataclass
class Selection:
    """Which dead letters to look at.

    ``url`` is a server-side filter (``None``: the whole account); ``tasks`` are task names or
    shell-style patterns (``app.tasks.*``), matched here against the decoded envelope;
    ``newer_than``/``older_than`` are ages in seconds; ``filters`` are further server-side
    ``DlqFilter`` keys (``message_id``, ``queue``, ``schedule_id``, ``response_status``,
    ``label``, ``url_group``).
    """

    url: str | None = None
    tasks: Sequence[str] = ()
    newer_than: float | None = None
    older_than: float | None = None
    filters: dict[str, Any] = field(default_factory=dict)

    def server_filter(self, now: datetime.datetime) -> dict[str, Any]:
        query = {key: value for key, value in self.filters.items() if value not in (None, "")}
        if self.url:
            query["url"] = self.url
        if self.newer_than is not None:
            query["from_time"] = int((now.timestamp() - self.newer_than) * 1000)
        if self.older_than is not None:
            query["to_time"] = int((now.timestamp() - self.older_than) * 1000)
        return query

    def matches(self, letter: DeadLetter) -> bool:
        if not self.tasks:
            return True
        name = letter.task_name
        return name is not None and any(fnmatch.fnmatchcase(name, t) for t in self.tasks)


def list_page(
    client: QStash,
    selection: Selection,
    *,
    cursor: str | None = None,
    count: int = PAGE_SIZE,
    now: datetime.datetime | None = None,
) -> tuple[list[DeadLetter], str | None]:
    """One page of the DLQ API: the matching dead letters on it, and the next page's cursor."""
    query = selection.server_filter(now or datetime.datetime.now(datetime.timezone.utc))
    page = client.dlq.list(cursor=cursor, count=count, filter=query or None)  # type: ignore[arg-type]
    letters = [letter for letter in map(from_sdk, page.messages) if selection.matches(letter)]
    return letters, (page.cursor or None) if page.messages else None


def iter_dead_letters(
    client: QStash,
    selection: Selection,
    *,
    cursor: str | None = None,
    limit: int | None = None,
    now: datetime.datetime | None = None,
) -> Iterator[DeadLetter]:
    """Every dead letter the selection matches, newest first, page by page with the cursor."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    produced = 0
    while True:
        letters, cursor = list_page(client, selection, cursor=cursor, now=now)
        for letter in letters:
            yield letter
            produced += 1
            if limit is not None and produced >= limit:
                return
        if not cursor:
            return


def get_dead_letter(client: QStash, dlq_id: str) -> DeadLetter:
    """One dead letter by its DLQ id, with its failed attempts counted from QStash's logs."""
    letter = from_sdk(client.dlq.get(dlq_id))
    letter.attempts = attempts_of(client, letter.message_id)
    return letter


def attempts_of(client: QStash, message_id: str) -> int | None:
    """How many deliveries of the message failed, from QStash's logs (``None``: no logs)."""
    try:
        # qstash 3.x prints every log page it reads to stdout: keep it out of our output.
        with contextlib.redirect_stdout(io.StringIO()):
            logs = client.log.list(filter={"message_id": message_id}, count=1000).logs
    except Exception:  # logs are a nicety: the DLQ entry is still worth showing without them
        return None
    failed = sum(1 for log in logs if getattr(log.state, "value", log.state) == "ERROR")
    if failed:
        return failed
    return 1 if any(getattr(log.state, "value", log.state) == "FAILED" for log in logs) else None


def _forwarded_headers(letter: DeadLetter) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, values in letter.headers.items():
        if name.lower() in _OWN_HEADERS or not values:
            continue
        headers[name] = values[-1] if isinstance(values, list) else str(values)
    return headers


def _content_type(letter: DeadLetter) -> str | None:
    for name, values in letter.headers.items():
        if name.lower() == "content-type" and values:
            return values[-1] if isinstance(values, list) else str(values)
    return None


def requeue_body(letter: DeadLetter) -> bytes:
    """The body to publish again: django-qstash messages say which task id they continue."""
    if letter.task_name is None:
        return letter.body
    options = dict(letter.options)
    options["task_id"] = letter.task_id
    return envelope.encode(envelope.Envelope(letter.task_name, letter.args, letter.kwargs, options))


def requeue(client: QStash, letter: DeadLetter) -> str:
    """Publish the message again, then delete it from the DLQ; returns the new message id.

    Deleted only after the publish succeeded: a failed publish loses nothing.
    """
    fields: dict[str, Any] = {
        "url": letter.url,
        "body": requeue_body(letter),
        "headers": _forwarded_headers(letter) or None,
        "retries": letter.max_retries,
        "callback": letter.callback,
        "failure_callback": letter.failure_callback,
        "content_type": _content_type(letter),
    }
    if letter.label:
        fields["label"] = letter.label
    published: Any = (
        client.message.enqueue(queue=letter.queue, **fields)
        if letter.queue
        else client.message.publish(**fields)
    )
    message_id = str(published.message_id)
    client.dlq.delete(letter.dlq_id)
    return message_id


def delete(client: QStash, dlq_ids: Iterable[str]) -> int:
    """Delete dead letters by id, a page at a time; returns how many were deleted."""
    ids = list(dlq_ids)
    deleted = 0
    for start in range(0, len(ids), PAGE_SIZE):
        deleted += client.dlq.delete_many(ids[start : start + PAGE_SIZE])
    return deleted


Progress = Callable[[int, int], None]


def requeue_many(
    client: QStash, letters: Sequence[DeadLetter], progress: Progress | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """Requeue each letter; returns ``({dlq_id: new message id}, {dlq_id: error})``."""
    done: dict[str, str] = {}
    failed: dict[str, str] = {}
    for index, letter in enumerate(letters, 1):
        try:
            done[letter.dlq_id] = requeue(client, letter)
        except Exception as exc:  # one bad message must not stop the rest
            failed[letter.dlq_id] = f"{type(exc).__name__}: {exc}"
        if progress is not None:
            progress(index, len(letters))
    return done, failed
