"""The HTTP/1.1 transport of django-qstash's async clients, on asyncio streams.

httpx's default async transport goes through httpcore's connection pool and anyio. Under
concurrent publishes from one event loop, that pool scans every connection for every request
(and asks anyio for each socket's state), and a publish costs about twice the CPU of a
synchronous one: the opposite of what an async view wants. This transport keeps what a client
of one API host needs: kept-alive connections per origin, reused last-in first-out; TLS with
the client's context (hostname checked); httpx's timeouts; and httpx's exceptions, so the SDK's
retries and django-qstash's error messages work unchanged. Proxies from the environment still
go through httpx's own transports (httpx mounts them ahead of this one).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import defaultdict
from typing import Any

import httpx

#: The largest response head (status line and headers) read.
MAX_HEAD = 64 * 1024
_Origin = tuple[str, str, int]


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class AsyncioTransport(httpx.AsyncBaseTransport):
    def __init__(self, ssl_context: ssl.SSLContext, max_idle_per_origin: int = 100) -> None:
        self._ssl_context = ssl_context
        self._max_idle = max_idle_per_origin
        self._idle: defaultdict[_Origin, list[_Connection]] = defaultdict(list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        payload = _serialise(request, await request.aread())
        idle = self._idle[origin]
        while idle:
            connection = idle.pop()
            if not connection.usable():
                connection.close()
                continue
            # A kept-alive connection the server has closed in the meantime answers nothing:
            # send again on a new one (publishes carry a deduplication id, so this is safe).
            answer = await self._exchange(connection, payload, request, timeouts, reused=True)
            if answer is not None:
                return self._finish(origin, connection, request, *answer)
        connection = await self._connect(origin, timeouts)
        answer = await self._exchange(connection, payload, request, timeouts, reused=False)
        assert answer is not None
        return self._finish(origin, connection, request, *answer)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def _connect(self, origin: _Origin, timeouts: dict[str, Any]) -> _Connection:
        scheme, host, port = origin
        tls = scheme == "https"
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host,
                    port,
                    ssl=self._ssl_context if tls else None,
                    server_hostname=host if tls else None,
                    limit=MAX_HEAD,
                ),
                timeouts.get("connect"),
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"could not connect to {host}:{port}: {exc}") from exc
        return _Connection(reader, writer)

    async def _exchange(
        self,
        connection: _Connection,
        payload: bytes,
        request: httpx.Request,
        timeouts: dict[str, Any],
        *,
        reused: bool,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool] | None:
        """Send the request, read the answer: (status, headers, body, keep-alive), or None when
        a reused connection turned out closed before answering."""
        try:
            connection.writer.write(payload)
            await asyncio.wait_for(connection.writer.drain(), timeouts.get("write"))
            head = await asyncio.wait_for(
                connection.reader.readuntil(b"\r\n\r\n"), timeouts.get("read")
            )
        except asyncio.IncompleteReadError as exc:
            connection.close()
            if reused and not exc.partial:
                return None
            raise httpx.RemoteProtocolError("the server closed the connection mid-answer") from exc
        except (ConnectionError, BrokenPipeError) as exc:
            connection.close()
            if reused:
                return None
            raise httpx.ReadError(str(exc)) from exc
        except asyncio.TimeoutError:
            connection.close()
            raise httpx.ReadTimeout("QStash did not answer in time") from None
        except asyncio.LimitOverrunError as exc:
            connection.close()
            raise httpx.RemoteProtocolError("the answer's headers are too large") from exc
        status, headers, keep_alive, length, chunked = _parse_head(head)
        try:
            body = await asyncio.wait_for(
                _read_body(connection.reader, request.method, status, length, chunked),
                timeouts.get("read"),
            )
        except asyncio.TimeoutError:
            connection.close()
            raise httpx.ReadTimeout("QStash's answer did not arrive in time") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            connection.close()
            raise httpx.RemoteProtocolError(f"a malformed or cut answer: {exc}") from exc
        return status, headers, body, keep_alive and (length is not None or chunked)

    def _finish(
        self,
        origin: _Origin,
        connection: _Connection,
        request: httpx.Request,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        keep_alive: bool,
    ) -> httpx.Response:
        idle = self._idle[origin]
        if keep_alive and connection.usable() and len(idle) < self._max_idle:
            idle.append(connection)
        else:
            connection.close()
        return httpx.Response(
            status,
            headers=headers,
            content=body,
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


def _serialise(request: httpx.Request, body: bytes) -> bytes:
    url = request.url
    target = url.raw_path or b"/"
    lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
    lines.extend(name + b": " + value for name, value in request.headers.raw)
    if body and "content-length" not in request.headers:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _parse_head(
    head: bytes,
) -> tuple[int, list[tuple[bytes, bytes]], bool, int | None, bool]:
    status_line, *header_lines = head[:-4].split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    try:
        status = int(rest[:3])
    except ValueError:
        raise httpx.RemoteProtocolError(f"not an HTTP status line: {status_line!r}") from None
    headers: list[tuple[bytes, bytes]] = []
    keep_alive = version == b"HTTP/1.1"
    length: int | None = None
    chunked = False
    for line in header_lines:
        name, _, value = line.partition(b":")
        name, value = name.strip(), value.strip()
        headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            keep_alive = value.lower() != b"close"
    if chunked:
        # httpx must not decode the body again: it is delivered whole.
        headers = [(n, v) for n, v in headers if n.lower() != b"transfer-encoding"]
    return status, headers, keep_alive, length, chunked


async def _read_body(
    reader: asyncio.StreamReader, method: str, status: int, length: int | None, chunked: bool
) -> bytes:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b""
    if chunked:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if length is not None:
        return await reader.readexactly(length)
    return await reader.read()  # until the server closes the connection
