"""The httpx transport under the async SDK client: concurrent publishes spread over connections.

Why this exists: ``qstash.AsyncQStash`` builds a plain ``httpx.AsyncClient``, and on one event
loop with many publishes in flight (an ASGI worker serving 50 requests at once) httpcore's
connection pool (httpcore 1.0) spends most of the publish's CPU time on itself:

- every request and every closed response rescans the whole pool, asking each idle connection
  whether its socket became readable (a system call each);
- a connection that has just been handed to one waiting request still looks idle until that
  request runs, so the other requests arriving meanwhile are handed the same connection, fail
  over with ``ConnectionNotAvailable`` and queue again (measured with 50 in flight: 2 to 11
  such failed attempts per publish, each after a rescan);
- with more than ``max_keepalive_connections`` (20 by default) connections open, a connection
  that goes idle is closed, so under that load connections are opened and closed all the time.

This transport keeps up to :data:`MAX_CONNECTIONS` keep-alive connections, each one an
``httpx.AsyncHTTPTransport`` limited to one connection (httpx's public API; the HTTP itself is
still httpx's and httpcore's). A request borrows an idle one (the most recently used, so a few
hot connections serve a light load), opens another below the limit, or waits its turn; it gives
it back when its response is closed. Every transport shares one TLS context, built once.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import threading
from collections.abc import AsyncIterator

import httpx

#: As many connections as httpx's own default limit allows.
MAX_CONNECTIONS = 100

_tls_lock = threading.Lock()
_tls_context: ssl.SSLContext | None = None


def tls_context() -> ssl.SSLContext:
    """The TLS context httpx builds by default (certifi's bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR`` when set), once per process: loading a bundle costs tens of milliseconds."""
    global _tls_context
    with _tls_lock:
        if _tls_context is None:
            _tls_context = httpx.create_ssl_context()
        return _tls_context


class SpreadTransport(httpx.AsyncBaseTransport):
    """Up to ``size`` kept-alive connections; one request at a time on each.

    One per event loop, as the client it belongs to (:mod:`django_qstash.aio`), so it needs no
    lock: everything here runs on that loop.
    """

    def __init__(self, size: int = MAX_CONNECTIONS, *, verify: ssl.SSLContext | None = None):
        self._size = size
        self._verify: ssl.SSLContext = verify if verify is not None else tls_context()
        self._idle: list[httpx.AsyncHTTPTransport] = []
        self._all: list[httpx.AsyncHTTPTransport] = []
        self._waiting: collections.deque[asyncio.Future[httpx.AsyncHTTPTransport]] = (
            collections.deque()
        )

    @property
    def connections(self) -> int:
        """How many single-connection transports were opened (for tests and diagnostics)."""
        return len(self._all)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = await self._borrow(request)
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            self._give_back(transport)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)  # an async transport's
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_GivesBack(response.stream, self, transport),
            extensions=response.extensions,
        )

    async def _borrow(self, request: httpx.Request) -> httpx.AsyncHTTPTransport:
        if self._idle:
            return self._idle.pop()
        if len(self._all) < self._size:
            transport = httpx.AsyncHTTPTransport(
                verify=self._verify,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
            self._all.append(transport)
            return transport
        turn: asyncio.Future[httpx.AsyncHTTPTransport] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            return await asyncio.wait_for(asyncio.shield(turn), timeout)
        except BaseException as exc:
            if turn.done() and not turn.cancelled():
                self._give_back(turn.result())  # handed over just as the wait ended
            else:
                turn.cancel()
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                raise httpx.PoolTimeout(
                    "no connection became free in time", request=request
                ) from exc
            raise

    def _give_back(self, transport: httpx.AsyncHTTPTransport) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(transport)
                return
        self._idle.append(transport)

    async def aclose(self) -> None:
        transports, self._all, self._idle = self._all, [], []
        for transport in transports:
            await transport.aclose()


class _GivesBack(httpx.AsyncByteStream):
    """A response's body; closing it gives the connection back (once)."""

    def __init__(
        self,
        stream: httpx.AsyncByteStream,
        owner: SpreadTransport,
        transport: httpx.AsyncHTTPTransport,
    ) -> None:
        self._stream = stream
        self._owner: SpreadTransport | None = owner
        self._transport = transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            owner, self._owner = self._owner, None
            if owner is not None:
                owner._give_back(self._transport)
