"""Turn a publish request (raw target + headers) into a :class:`Message`."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django_qstash.devserver.durations import InvalidValue, RetryDelayExpression, parse_duration
from django_qstash.devserver.flow import DEFAULT_PERIOD
from django_qstash.devserver.message import DELIVERY_HEADERS, HeaderMap, Message

NAME_PATTERN = re.compile(r"^[A-Za-z0-9._-]+$")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MAX_RETRIES = 100

_COLLAPSED_SCHEME = re.compile(r"^(https?):/+", re.IGNORECASE)
_ENCODED_SCHEME = re.compile(r"^https?%3A", re.IGNORECASE)
#: Framing and hop-by-hop headers (and ``Proxy-*``): they describe one HTTP connection, not the
#: message, so they are never forwarded, whichever way they are given.
_HOP_BY_HOP = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "host",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    }
)
#: Not taken by ``Upstash-Header-Forward: true`` either: they belong to the API request itself.
_API_REQUEST_ONLY = frozenset({"authorization", "accept-encoding", "expect"})
_CALLBACK_CONFIG = ("method", "timeout", "retries", "retry-delay", "delay")


class Headers:
    """Request headers: original name case kept for forwarding, looked up case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self.items = [(str(name), str(value)) for name, value in items]
        self._lower: dict[str, str] = {}
        for name, value in self.items:
            self._lower.setdefault(name.lower(), value)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object] | None) -> Headers:
        return cls((name, str(value)) for name, value in (mapping or {}).items())

    def get(self, name: str) -> str | None:
        return self._lower.get(name.lower())

    def with_prefix(self, prefix: str) -> list[tuple[str, str]]:
        """``(name without prefix, value)`` for every header starting with ``prefix``."""
        prefix = prefix.lower()
        return [
            (name[len(prefix) :], value)
            for name, value in self.items
            if name.lower().startswith(prefix) and len(name) > len(prefix)
        ]


@dataclass
class Destination:
    url: str | None = None
    url_group: str | None = None


def parse_destination(raw: str) -> Destination:
    """The destination spliced into the path, raw, plus the query string."""
    text = raw.strip()
    if _ENCODED_SCHEME.match(text):
        text = urllib.parse.unquote(text)
    if text.lower().startswith(("http:", "https:")):
        # Proxies and path normalisers collapse "https://" into "https:/".
        text = _COLLAPSED_SCHEME.sub(lambda m: m.group(1).lower() + "://", text, count=1)
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidValue(f"invalid destination url {raw!r}")
        try:
            parts.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            raise InvalidValue(f"invalid destination url {raw!r}: bad port") from None
        if any(ch.isspace() for ch in text):
            raise InvalidValue(f"invalid destination url {raw!r}: it contains spaces")
        return Destination(url=text)
    name = text.split("?", 1)[0]
    if not NAME_PATTERN.match(name):
        raise InvalidValue(
            f"invalid destination {raw!r}: give an http(s) URL or a URL group name ([A-Za-z0-9._-])"
        )
    return Destination(url_group=name)


def check_name(kind: str, name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise InvalidValue(f"invalid {kind} {name!r}: use only letters, digits, '.', '_' and '-'")
    return name


def _int(value: str, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidValue(f"{name} must be an integer, got {value!r}") from None
    if number < minimum or (maximum is not None and number > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise InvalidValue(f"{name} must be at least {minimum}{upper}, got {number}")
    return number


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise InvalidValue(f"{name} must be true or false, got {value!r}")


def _url(value: str, name: str) -> str:
    try:
        destination = parse_destination(value)
    except InvalidValue:
        destination = Destination()
    if destination.url is None:
        raise InvalidValue(f"{name} must be an http(s) URL, got {value!r}")
    return destination.url


def _header_map(pairs: Iterable[tuple[str, str]]) -> HeaderMap:
    result: HeaderMap = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def forwardable(name: str) -> bool:
    """Whether a header given to forward may reach the destination.

    The server's own delivery headers win over forwarded ones (a client that forwards every
    header it received must not make a delivery carry two signatures or two message ids), and
    framing or hop-by-hop headers are never forwarded.
    """
    lowered = name.lower()
    return not (
        lowered in DELIVERY_HEADERS or lowered in _HOP_BY_HOP or lowered.startswith("proxy-")
    )


def forwarded_headers(headers: Headers) -> HeaderMap:
    """What the destination receives: ``Upstash-Forward-*`` unprefixed, and one Content-Type.

    The publish request's own Content-Type describes the body; a forwarded one applies only
    when the request has none.
    """
    pairs: list[tuple[str, str]] = []
    forwarded = headers.with_prefix("upstash-forward-")
    content_type = headers.get("content-type") or next(
        (value for name, value in forwarded if name.lower() == "content-type"), None
    )
    if content_type:
        pairs.append(("Content-Type", content_type))
    if _bool(headers.get("upstash-header-forward") or "false", "Upstash-Header-Forward"):
        pairs.extend(
            (name, value)
            for name, value in headers.items
            if not name.lower().startswith("upstash-")
            and name.lower() not in _API_REQUEST_ONLY
            and forwardable(name)
        )
    pairs.extend(
        (name, value)
        for name, value in headers.with_prefix("upstash-forward-")
        if forwardable(name)
    )
    return _header_map(pairs)


def parse_flow_control(message: Message, headers: Headers) -> None:
    key = headers.get("upstash-flow-control-key")
    value = headers.get("upstash-flow-control-value")
    if key is None:
        if value:
            raise InvalidValue("Upstash-Flow-Control-Value needs Upstash-Flow-Control-Key")
        return
    if not key.strip():
        raise InvalidValue("Upstash-Flow-Control-Key is empty")
    message.flow_key = key.strip()
    # Without a period QStash applies (and reports) its default, for rate and parallelism alike.
    message.flow_period = DEFAULT_PERIOD
    # The SDKs join with ", "; the docs' curl examples with ",".
    for part in (value or "").split(","):
        if not part.strip():
            continue
        name, sep, raw = part.strip().partition("=")
        name = name.strip().lower()
        if not sep:
            raise InvalidValue(f"invalid Upstash-Flow-Control-Value part {part.strip()!r}")
        if name == "parallelism":
            message.flow_parallelism = _int(raw, "flow control parallelism", minimum=1)
        elif name == "rate":
            message.flow_rate = _int(raw, "flow control rate", minimum=1)
        elif name == "period":
            period = parse_duration(raw, name="flow control period")
            if period <= 0 or period > 7 * 86_400:
                raise InvalidValue("flow control period must be between 1s and 1 week")
            message.flow_period = period
        else:
            raise InvalidValue(f"unknown flow control setting {name!r}")


def parse_message(headers: Headers, *, now_ms: int, for_schedule: bool = False) -> Message:
    """Every delivery option of a publish (or schedule create) request, validated."""
    message = Message(url="")
    method = headers.get("upstash-method")
    if method:
        method = method.strip().upper()
        if method not in METHODS:
            raise InvalidValue(f"invalid Upstash-Method {method!r}")
        message.method = method
    message.headers = forwarded_headers(headers)

    retries = headers.get("upstash-retries")
    if retries is not None:
        message.retries = _int(retries, "Upstash-Retries", maximum=MAX_RETRIES)
    retry_delay = headers.get("upstash-retry-delay")
    if retry_delay:
        RetryDelayExpression(retry_delay)  # validate now: a bad expression is a 400
        message.retry_delay = retry_delay
    timeout = headers.get("upstash-timeout")
    if timeout:
        seconds = parse_duration(timeout, name="Upstash-Timeout")
        message.timeout = seconds if seconds > 0 else None

    delay = headers.get("upstash-delay")
    if delay:
        message.delay = parse_duration(delay, name="Upstash-Delay")
    not_before = headers.get("upstash-not-before")
    message.not_before_ms = now_ms + int(message.delay * 1000)
    if not_before and not for_schedule:
        # Unix seconds; overrides Upstash-Delay.
        message.not_before_ms = _int(not_before, "Upstash-Not-Before") * 1000

    callback = headers.get("upstash-callback")
    if callback:
        message.callback = _url(callback, "Upstash-Callback")
    failure_callback = headers.get("upstash-failure-callback")
    if failure_callback:
        message.failure_callback = _url(failure_callback, "Upstash-Failure-Callback")
    message.callback_headers = _header_map(headers.with_prefix("upstash-callback-"))
    message.failure_callback_headers = _header_map(headers.with_prefix("upstash-failure-callback-"))
    for config in (message.callback_headers, message.failure_callback_headers):
        _check_callback_config(config)

    if not for_schedule:
        dedup = headers.get("upstash-deduplication-id")
        message.deduplication_id = dedup.strip() if dedup and dedup.strip() else None
        content = headers.get("upstash-content-based-deduplication")
        if content is not None:
            # The Python SDK sends str(bool): "True"/"False".
            message.content_based_deduplication = _bool(
                content, "Upstash-Content-Based-Deduplication"
            )

    parse_flow_control(message, headers)
    label = headers.get("upstash-label")
    if label:
        message.labels = [part.strip() for part in label.split(",") if part.strip()]
    redact = headers.get("upstash-redact-fields")
    if redact:
        message.redact = [part.strip() for part in redact.split(",") if part.strip()]
    if for_schedule:
        queue = headers.get("upstash-queue-name")
        if queue:
            message.queue_name = check_name("queue name", queue.strip())
    return message


def _check_callback_config(config: HeaderMap) -> None:
    for name, values in config.items():
        lowered = name.lower()
        if lowered == "retries":
            _int(values[0], "callback retries", maximum=MAX_RETRIES)
        elif lowered in ("timeout", "delay"):
            parse_duration(values[0], name=f"callback {lowered}")
        elif lowered == "retry-delay":
            RetryDelayExpression(values[0])
        elif lowered == "method" and values[0].strip().upper() not in METHODS:
            raise InvalidValue(f"invalid callback method {values[0]!r}")


def callback_message(config: HeaderMap, *, url: str, source: Message) -> Message:
    """The (failure) callback message's own settings, from ``Upstash-(Failure-)Callback-*``.

    ``Method, Timeout, Retries, Retry-Delay, Delay`` configure it; ``Forward-<H>`` is forwarded
    as ``<H>`` (the documented form); any other ``<H>`` (what the Python SDK's
    ``callback_headers`` sends) is forwarded as ``<H>`` too, which is what its users mean. As for
    messages, the server's own delivery headers (Content-Type included: the body is the
    server's JSON) and hop-by-hop headers are never forwarded.
    """
    message = Message(url=url, method="POST", retries=source.retries)
    message.retry_delay = source.retry_delay
    message.headers = {"Content-Type": ["application/json"]}
    for name, values in config.items():
        lowered = name.lower()
        value = values[0]
        if lowered == "method":
            message.method = value.strip().upper()
        elif lowered == "retries":
            message.retries = int(value)
        elif lowered == "retry-delay":
            message.retry_delay = value
        elif lowered == "timeout":
            message.timeout = parse_duration(value) or None
        elif lowered == "delay":
            message.delay = parse_duration(value)
        elif lowered.startswith(("failure-callback", "feature-set")):
            # Upstash Workflow's settings for the callback itself, not headers to deliver.
            continue
        elif lowered.startswith("workflow-"):
            # Upstash Workflow's ``Upstash-(Failure-)Callback-Workflow-RunId`` and friends
            # become the callback's ``Upstash-Workflow-*`` headers, which the SDK reads.
            message.headers.setdefault("Upstash-" + name, []).extend(values)
        elif lowered not in _CALLBACK_CONFIG:
            forwarded = name[len("forward-") :] if lowered.startswith("forward-") else name
            if forwarded and forwardable(forwarded):
                message.headers.setdefault(forwarded, []).extend(values)
    return message
