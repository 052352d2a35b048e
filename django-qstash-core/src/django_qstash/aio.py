"""The async publishing client: one ``qstash.AsyncQStash`` per event loop.

An httpx async client belongs to the event loop it first ran on (its pooled connections are that
loop's streams), so each loop gets its own SDK client, reused for every publish on that loop
(connections kept alive), and closed when the loop shuts down: ``asyncio.run`` (which uvicorn,
Daphne's and asgiref's ``async_to_sync`` all use) finalises the loop's async generators before
closing it, and a small generator registered with the loop closes the client then. Nothing in
this module hands work to a thread: a publish is the SDK's coroutine on the caller's loop.

From synchronous code keep using ``.delay()``: ``async_to_sync`` runs each call on a new loop,
so each would build (and close) a client of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django_qstash import sdk

if TYPE_CHECKING:
    from qstash import AsyncQStash


@dataclass
class _LoopClient:
    key: tuple[str | None, str | None, int]
    client: AsyncQStash
    #: Suspended until the loop shuts down its async generators; it then closes the client.
    closer: AsyncGenerator[None, None]


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()  # loops on several threads may build their first client at once


async def get_async_client() -> AsyncQStash:
    """The running loop's client, built on first use (and again if the settings changed)."""
    loop = asyncio.get_running_loop()
    key = sdk.settings_key()
    entry = _clients.get(loop)
    if entry is not None and entry.key == key:
        return entry.client
    client: AsyncQStash = sdk.client_from_settings("async", key)
    closer = _close_at_shutdown(loop, client)
    await closer.__anext__()  # now suspended inside its try: finalising it closes the client
    with _lock:
        previous = _clients.get(loop)
        _clients[loop] = _LoopClient(key, client, closer)
    if previous is not None:  # settings changed (tests, mostly)
        await previous.closer.aclose()
    return client


async def _close_at_shutdown(
    loop: asyncio.AbstractEventLoop, client: AsyncQStash
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        with _lock:
            entry = _clients.get(loop)
            if entry is not None and entry.client is client:
                del _clients[loop]
        await _close(client)


async def _close(client: AsyncQStash) -> None:
    with contextlib.suppress(Exception):  # best effort: the loop is going away
        await client.http._client.aclose()


async def close_async_client() -> None:
    """Close the running loop's client now (it is closed at the loop's shutdown otherwise)."""
    with _lock:
        entry = _clients.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry.closer.aclose()


def loop_client_count() -> int:
    """How many event loops hold a client (for tests and diagnostics)."""
    return len(_clients)
