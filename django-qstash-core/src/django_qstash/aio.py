"""Async publishing: one ``qstash.AsyncQStash`` per event loop, and the async senders.

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
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async

from django_qstash import publisher, sdk
from django_qstash.conf import conf
from django_qstash.signals import log_raised, message_published
from django_qstash.store_registry import get_result_store

if TYPE_CHECKING:
    from qstash import AsyncQStash

    from django_qstash.messages import PreparedMessage


@dataclass
class _LoopClient:
    key: tuple[str | None, str | None, int]
    client: AsyncQStash
    #: Suspended until the loop shuts down its async generators; it then closes the client.
    closer: AsyncGenerator[None, None]
    #: ``conf.generation`` when ``key`` was last compared with the settings: until the settings
    #: cache is cleared (``setting_changed``), each publish reuses the client without reading
    #: them again.
    generation: int = -1


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()  # loops on several threads may build their first client at once


async def get_async_client() -> AsyncQStash:
    """The running loop's client, built on first use (and again if the settings changed)."""
    loop = asyncio.get_running_loop()
    entry = _clients.get(loop)
    if entry is not None and entry.generation == conf.generation:
        return entry.client
    generation = conf.generation
    key = sdk.settings_key()
    if entry is not None and entry.key == key:
        entry.generation = generation
        return entry.client
    client: AsyncQStash = sdk.client_from_settings("async", key)
    closer = _close_at_shutdown(loop, client)
    await closer.__anext__()  # now suspended inside its try: finalising it closes the client
    with _lock:
        previous = _clients.get(loop)
        _clients[loop] = _LoopClient(key, client, closer, generation)
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


# ------------------------------------------------------------------------------ sending


async def send(prepared: PreparedMessage) -> str:
    """Publish a prepared message with the running loop's client; returns its message id."""
    client = await get_async_client()
    call = publisher.prepared_call(prepared)
    try:
        return await call.arun(client)
    except Exception as exc:
        raise publisher.publish_error(exc, client.http._base_url) from exc


async def publish(body: bytes, **options: Any) -> str:
    """``publisher.publish`` on the running loop's client, without leaving the loop."""
    client = await get_async_client()
    call = publisher.sdk_call(body, **options)
    try:
        return await call.arun(client)
    except Exception as exc:
        raise publisher.publish_error(exc, client.http._base_url) from exc


async def send_batch(messages: Sequence[PreparedMessage]) -> list[str]:
    """Publish prepared messages in one request; returns their message ids, in order."""
    return await publish_batch([(p.body, p.publish_arguments()) for p in messages])


async def publish_batch(messages: Sequence[tuple[bytes, Mapping[str, Any]]]) -> list[str]:
    """``publisher.publish_batch`` on the running loop's client."""
    client = await get_async_client()
    items = publisher.batch_items(messages)
    try:
        responses = await client.message.batch(items)
    except Exception as exc:
        raise publisher.publish_error(exc, client.http._base_url) from exc
    return publisher.batch_ids(responses)


async def record_published(prepared: PreparedMessage, message_id: str, sender: Any) -> None:
    """``pipeline.record_published`` from async code: a store that can record without the
    database (``arecord_published``, as the results app's when it keeps no PENDING rows)
    costs no thread; signal receivers run as Django runs them (sync ones in a thread)."""
    store = get_result_store()
    if store is not None and not prepared.ignore_result:
        arecord = getattr(store, "arecord_published", None)
        if arecord is None:
            arecord = sync_to_async(store.record_published)
        await arecord(message_id, prepared.task_name, prepared.args, prepared.kwargs)
    if message_published.receivers:
        responses = await message_published.asend_robust(
            sender,
            message_id=message_id,
            task_name=prepared.task_name,
            args=prepared.args,
            kwargs=prepared.kwargs,
        )
        log_raised(responses)
