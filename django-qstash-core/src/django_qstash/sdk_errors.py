"""One reading of what the QStash SDK raised: the status, QStash's answer, and its kind.

The SDK raises ``QStashError("Request failed with status: N, body: ...")`` for an answer it
refused, two subclasses for HTTP 429 (rate limit, daily quota), and lets the transport's
errors (httpx's connect/read/timeout errors) through. Callers word their own messages from the
:class:`SdkFailure` (the publisher, the schedules app).
"""

from __future__ import annotations

import json
import re
from typing import Literal, NamedTuple

_SDK_ERROR = r"^Request failed with status: (\d+), body: (.*)$"  # compiled by re on first use

#: ``daily_limit``/``rate_limited``: HTTP 429; ``refused``: another answer QStash gave;
#: ``unreachable``: no answer (connection, timeout); ``unexpected``: anything else.
FailureKind = Literal["daily_limit", "rate_limited", "refused", "unreachable", "unexpected"]


# A NamedTuple, not a frozen dataclass: as immutable, and about five times cheaper to define
# when Django sets up (``hooks`` re-exports it).
class SdkFailure(NamedTuple):
    kind: FailureKind
    #: The HTTP status QStash answered with, when it answered.
    status: int | None = None
    #: QStash's answer as it came (or the exception's text).
    body: str = ""
    #: The answer's ``error`` field when it is JSON, else the body.
    reason: str = ""
    #: For 429s: the quota and when it resets, as the SDK reports them.
    limit: str | None = None
    reset: str | None = None


def translate_sdk_error(exc: BaseException) -> SdkFailure:
    """What ``exc`` (raised by the SDK or its transport) says about the request."""
    from qstash.errors import DailyMessageLimitExceededError, QStashError, RateLimitExceededError

    if isinstance(exc, DailyMessageLimitExceededError):
        return SdkFailure(
            "daily_limit", 429, str(exc), str(exc), _text(exc.limit), _text(exc.reset)
        )
    if isinstance(exc, RateLimitExceededError):
        return SdkFailure(
            "rate_limited", 429, str(exc), str(exc), _text(exc.limit), _text(exc.reset)
        )
    if isinstance(exc, QStashError):
        match = re.match(_SDK_ERROR, str(exc), re.DOTALL)
        if match is None:
            return SdkFailure("refused", None, str(exc), str(exc))
        status, body = int(match.group(1)), match.group(2)
        return SdkFailure("refused", status, body, _reason(body.strip()))
    # httpx's transport errors (connect, read, timeouts), without importing httpx here.
    if isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in {"httpx", "httpcore"}:
        return SdkFailure("unreachable", None, str(exc), str(exc))
    return SdkFailure("unexpected", None, str(exc), str(exc))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _reason(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return body
