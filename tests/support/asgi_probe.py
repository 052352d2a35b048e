"""The sample project's ASGI application, observed: what hops to a thread while a request
publishes.

Served by uvicorn in tests (``asgi_app="tests.support.asgi_probe:application"``). For each
request path it records

* every function ``sync_to_async`` runs (asgiref's ``SyncToAsync``),
* every function handed to the event loop's executor (``loop.run_in_executor``),
* every HTTP request sent to QStash (``QSTASH_URL``): by httpx's async or sync client, and
  whether on the event loop's thread.

``GET /__probe__/`` answers the records as JSON (and clears them). ``POST /__probe__/control/``
publishes the way async views had to before ``adelay()``, ``sync_to_async(task.delay)``, so a
test can show that the probe does see a thread hop.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import threading
from collections import defaultdict
from typing import Any

import httpx
from asgiref.sync import SyncToAsync, sync_to_async
from cfehome.asgi import application as django_application

_path: contextvars.ContextVar[str] = contextvars.ContextVar("probe_path", default="")
records: dict[str, dict[str, list[Any]]] = defaultdict(
    lambda: {"sync_to_async": [], "executor": [], "qstash_requests": []}
)
_loop_thread: list[int] = []


def _name(func: Any) -> str:
    # Never repr(): a bound method's repr shows its object (a QuerySet would run its query).
    func = getattr(func, "func", func)  # functools.partial
    func = getattr(func, "__func__", func)  # a bound method
    name = getattr(func, "__qualname__", type(func).__qualname__)
    return f"{getattr(func, '__module__', '?')}.{name}"


_sync_to_async_call = SyncToAsync.__call__


async def _observed_sync_to_async(self: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
    records[_path.get()]["sync_to_async"].append(_name(self.func))
    return await _sync_to_async_call(self, *args, **kwargs)


SyncToAsync.__call__ = _observed_sync_to_async  # type: ignore[method-assign]

_run_in_executor = asyncio.BaseEventLoop.run_in_executor


def _observed_run_in_executor(
    self: asyncio.AbstractEventLoop, executor: Any, func: Any, *args: Any
) -> Any:
    records[_path.get()]["executor"].append(_name(func))
    return _run_in_executor(self, executor, func, *args)  # type: ignore[arg-type]


asyncio.BaseEventLoop.run_in_executor = _observed_run_in_executor  # type: ignore[method-assign]

QSTASH_URL = os.environ["QSTASH_URL"]


def _record_request(kind: str, request: httpx.Request) -> None:
    if str(request.url).startswith(QSTASH_URL):
        on_loop = bool(_loop_thread) and threading.get_ident() == _loop_thread[0]
        records[_path.get()]["qstash_requests"].append(
            {"client": kind, "path": request.url.path, "on_loop_thread": on_loop}
        )


_async_send = httpx.AsyncClient.send
_sync_send = httpx.Client.send


async def _observed_async_send(self: httpx.AsyncClient, request: httpx.Request, **kw: Any) -> Any:
    _record_request("async", request)
    return await _async_send(self, request, **kw)


def _observed_sync_send(self: httpx.Client, request: httpx.Request, **kw: Any) -> Any:
    _record_request("sync", request)
    return _sync_send(self, request, **kw)


httpx.AsyncClient.send = _observed_async_send  # type: ignore[method-assign]
httpx.Client.send = _observed_sync_send  # type: ignore[method-assign]


async def _answer(send: Any, payload: Any) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        await django_application(scope, receive, send)
        return
    if not _loop_thread:
        _loop_thread.append(threading.get_ident())
    path = scope["path"]
    if path == "/__probe__/":
        snapshot = dict(records)
        records.clear()
        await _answer(send, snapshot)
        return
    token = _path.set(path)
    try:
        if path == "/__probe__/control/":
            from example.tasks import record

            result = await sync_to_async(record.delay)("control", {"via": "sync_to_async"})
            await _answer(send, {"task_id": result.id})
            return
        await django_application(scope, receive, send)
    finally:
        _path.reset(token)
