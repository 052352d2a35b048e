"""QStash's callbacks for ``link``/``link_error`` (and so chains): publish what follows a task."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

# canvas: chain, group and chord register themselves on import, and the link signatures read
# back from a message below may be any of them.
from django_qstash import (
    canvas,  # noqa: F401
    envelope,
)
from django_qstash.exceptions import MalformedMessage
from django_qstash.result import AsyncResult, EagerResult, GroupResult
from django_qstash.signatures import LINK_MARKER, signature_list


class CallbackIgnored(Exception):
    """The callback needs nothing done (a failed attempt, a retry, a duplicate)."""


def continue_from_callback(marker: str, body: bytes) -> list[str]:
    """Publish what follows a task, from the body of QStash's (failure) callback.

    Returns the published message ids. Raises :class:`CallbackIgnored` when there is nothing
    to do, :class:`MalformedMessage` when the callback cannot be read, and whatever publishing
    raises (the webhook answers so QStash retries; deduplication ids derived from the source
    message keep a retried callback from publishing twice).
    """
    try:
        data = json.loads(body)
        source_id = str(data.get("sourceMessageId") or "")
        source = envelope.decode(base64.b64decode(data.get("sourceBody") or ""))
    except MalformedMessage:
        raise
    except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
        raise MalformedMessage(f"not a QStash callback body: {exc}") from None

    task_id = str(source.options.get("task_id") or source_id)
    if marker == LINK_MARKER:
        status = data.get("status")
        if not isinstance(status, int) or not 200 <= status < 300:
            raise CallbackIgnored(f"the attempt answered {status}; QStash handles retries")
        try:
            answer = json.loads(base64.b64decode(data.get("body") or ""))
        except (ValueError, binascii.Error) as exc:
            raise MalformedMessage(f"the callback's response body is not JSON: {exc}") from None
        # "duplicate" with a result: a redelivery after QStash missed the first answer.
        if not isinstance(answer, dict) or not (
            answer.get("status") == "success"
            or (answer.get("status") == "duplicate" and "result" in answer)
        ):
            state = answer.get("status") if isinstance(answer, dict) else None
            raise CallbackIgnored(f"the task did not complete here ({state!r})")
        signatures = signature_list(source.options.get("link"))
        arguments: tuple[Any, ...] = (answer.get("result"),)
        kind = "link"
    else:
        signatures = signature_list(source.options.get("link_error"))
        arguments = (task_id,)
        kind = "link_error"
    if not signatures:
        raise CallbackIgnored(f"the message has no {kind}")

    root_id = str(source.options.get("root_id") or task_id)
    published: list[str] = []
    for index, follower in enumerate(signatures):
        options: dict[str, Any] = {"parent_id": task_id, "root_id": root_id}
        own = follower["options"]
        if "task_id" not in own and "deduplication_id" not in own:
            options["deduplication_id"] = f"{source_id or task_id}.{kind}.{index}"
        outcome = follower.apply_async(arguments, **options)
        published.extend(_ids(outcome))
    return published


def _ids(outcome: Any) -> list[str]:
    if isinstance(outcome, GroupResult):
        return [result.id for result in outcome.results]
    if isinstance(outcome, (AsyncResult, EagerResult)):
        return [outcome.id]
    return []
