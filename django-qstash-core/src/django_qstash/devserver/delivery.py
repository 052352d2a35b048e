"""One delivery attempt: the signed HTTP request QStash makes to a destination."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import httpx

from django_qstash.devserver import tokens
from django_qstash.devserver.keys import KeyRing
from django_qstash.devserver.message import HeaderMap
from django_qstash.devserver.store import StoredMessage

USER_AGENT = "Upstash-QStash"
#: Response bodies kept for logs, the DLQ and callbacks.
MAX_RESPONSE_BODY = 1_048_576
#: Seconds an idle connection to a destination is kept for reuse (below every common server's
#: keep-alive timeout: gunicorn 2 s, uvicorn 5 s, nginx 75 s).
KEEPALIVE_EXPIRY = 1.0


@dataclass
class AttemptResult:
    #: HTTP status, or 0 when no response arrived (connection error, timeout).
    status: int
    headers: HeaderMap
    body: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def non_retryable(self) -> bool:
        flag = next(
            (v[0] for k, v in self.headers.items() if k.lower() == "upstash-nonretryable-error"),
            "",
        )
        return self.status == 489 and flag.strip().lower() == "true"

    def header(self, name: str) -> str | None:
        return next((v[0] for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def flat_headers(self) -> dict[str, str]:
        return {k.lower(): v[0] for k, v in self.headers.items() if v}


class Deliverer:
    """Sends attempts over one pooled ``httpx.Client`` (connections to a destination are reused)."""

    def __init__(self, keys: KeyRing, *, default_timeout: float, max_connections: int) -> None:
        self._keys = keys
        self._default_timeout = default_timeout
        # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback calls.
        self._client = httpx.Client(
            trust_env=False,
            follow_redirects=False,
            # httpx writes headers and body separately: without TCP_NODELAY the body can wait
            # for the destination's delayed ACK.
            transport=httpx.HTTPTransport(
                limits=httpx.Limits(
                    max_connections=max_connections,
                    max_keepalive_connections=max_connections,
                    # Reuse a connection only while its server surely keeps it: gunicorn closes
                    # idle ones after 2 s (httpx's default would reuse them for 5 s), and a
                    # request racing that close is reset, a failed attempt for no reason.
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            ),
        )

    def close(self) -> None:
        self._client.close()

    def request_headers(self, stored: StoredMessage, body: bytes) -> list[tuple[str, str]]:
        message = stored.message
        current, _ = self._keys.pair()
        headers: list[tuple[str, str]] = [
            (name, value) for name, values in message.headers.items() for value in values
        ]
        headers += [
            ("User-Agent", USER_AGENT),
            ("Upstash-Signature", tokens.sign(body, message.url, current)),
            ("Upstash-Message-Id", message.id),
            ("Upstash-Retried", str(stored.retried)),
        ]
        if message.schedule_id:
            headers.append(("Upstash-Schedule-Id", message.schedule_id))
        if message.caller_ip:
            headers.append(("Upstash-Caller-Ip", message.caller_ip))
        if message.topic_name:
            headers.append(("Upstash-Topic-Name", message.topic_name))
        return headers

    def attempt(self, stored: StoredMessage) -> AttemptResult:
        message = stored.message
        # A GET/HEAD carries no body; the signature then covers the empty body.
        body = b"" if message.method in ("GET", "HEAD") else stored.body
        timeout = message.timeout or self._default_timeout
        try:
            with self._client.stream(
                message.method,
                message.url,
                content=body,
                headers=self.request_headers(stored, body),
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            ) as response:
                data = b""
                for chunk in response.iter_bytes():
                    if len(data) < MAX_RESPONSE_BODY:
                        data += chunk
                headers: HeaderMap = {}
                for name, value in response.headers.multi_items():
                    headers.setdefault(_title(name), []).append(value)
                return AttemptResult(response.status_code, headers, data[:MAX_RESPONSE_BODY])
        except httpx.TimeoutException as exc:
            return AttemptResult(0, {}, b"", f"timeout after {timeout:g}s: {exc!r}")
        except httpx.HTTPError as exc:
            return AttemptResult(0, {}, b"", f"{type(exc).__name__}: {exc}")


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
