"""``adelay``/``aapply_async``, async canvas, ``aget`` and ``aenqueue``: the same requests as their
sync forms, sent by the event loop's AsyncQStash client (over loopback HTTP to the recorder),
with no thread hop on the way."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.test import override_settings

from django_qstash import chain, group, shared_task
from django_qstash.exceptions import PublishError
from django_qstash.result import EagerResult, GroupResult

calls: list[Any] = []


@shared_task
def add(a: int, b: int = 0) -> int:
    calls.append((a, b))
    return a + b


@shared_task(max_retries=2, retry_delay="10s")
def configured(value: int) -> int:
    return value


#: Options of apply_async, each sent the same way by aapply_async (no eta: its body would
#: carry the moment it was called).
OPTIONS: list[dict[str, Any]] = [
    {},
    {"countdown": 30},
    {"queue": "emails"},
    {"queue": "emails", "countdown": 5},
    {"max_retries": 5, "retry_delay": "2s", "timeout": "20s"},
    {"task_id": "my-id"},
    {"headers": {"X-Trace": "abc"}},
    {"label": "nightly", "deduplication_id": "dedupe-1"},
    {"content_based_deduplication": True},
    {"flow_control": {"key": "tenant-1", "parallelism": 2, "rate": 10, "period": "1m"}},
    {"link": add.si(1, 1)},
    {"expires": 3600},
    {"ignore_result": True},
]


def _comparable(request: Any) -> tuple[Any, ...]:
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith("upstash-")}
    body = request.json()
    # Moments computed from "now" (countdown's eta, expires) differ by the time between calls.
    for key in ("eta", "expires"):
        if key in body.get("options", {}):
            body["options"][key] = "<from now>"
    return request.method, request.path, headers, request.headers["Content-Type"], body


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "none")
@pytest.mark.parametrize("task", [add, configured], ids=["plain", "configured"])
def test_aapply_async_sends_what_apply_async_sends(qstash, no_result_store, task, options):
    sync_result = task.apply_async((2,), **options)
    async_result = asyncio.run(task.aapply_async((2,), **options))
    sync_request, async_request = qstash.requests
    assert _comparable(async_request) == _comparable(sync_request)
    assert async_result.id == sync_result.id == "msg_recorded"
    assert async_result.task_name == task.name


def test_adelay_publishes_on_the_loop_thread_and_hops_nowhere(qstash, no_result_store, monkeypatch):
    import httpx

    hops: list[str] = []
    sends: list[tuple[str, bool]] = []
    original_call = SyncToAsync.__call__
    original_send = httpx.AsyncClient.send

    async def observed_call(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__qualname__", "?"))
        return await original_call(self, *args, **kwargs)

    async def observed_send(self: Any, request: Any, **kwargs: Any) -> Any:
        sends.append((str(request.url.path), threading.get_ident() == loop_thread))
        return await original_send(self, request, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", observed_call)
    monkeypatch.setattr(httpx.AsyncClient, "send", observed_send)

    async def main() -> list[str]:
        executor_uses: list[Any] = []
        loop = asyncio.get_running_loop()
        original = loop.run_in_executor

        def counted(executor: Any, func: Any, *args: Any) -> Any:
            executor_uses.append(func)
            return original(executor, func, *args)

        loop.run_in_executor = counted  # type: ignore[method-assign]
        await add.adelay(1, 2)  # opens the kept-alive connection
        executor_uses.clear()
        ids = [(await add.adelay(i, 1)).id for i in range(3)]
        assert executor_uses == []
        return ids

    loop_thread = threading.get_ident()  # asyncio.run runs the loop on this thread
    ids = asyncio.run(main())
    assert ids == ["msg_recorded"] * 3
    assert hops == []
    assert len(sends) == 4
    assert all(on_loop for _, on_loop in sends)
    assert len({r.client for r in qstash.requests}) == 1  # one kept-alive connection


def test_adelay_checks_the_arguments_before_anything_is_sent(qstash, no_result_store):
    with pytest.raises(TypeError):
        asyncio.run(add.adelay(1, 2, 3))
    with pytest.raises(TypeError, match="neither an option nor a parameter"):
        asyncio.run(add.aapply_async((1,), countdwn=5))
    assert qstash.requests == []


def test_a_refused_async_publish_raises_publish_error(qstash, no_result_store):
    qstash.answer = (401, {"error": "invalid token"}, {})
    with pytest.raises(PublishError, match="HTTP 401") as refused:
        asyncio.run(add.adelay(1))
    assert refused.value.status == 401


def test_an_unreachable_qstash_raises_publish_error(no_result_store):
    with (
        override_settings(QSTASH_URL="http://127.0.0.1:9"),
        pytest.raises(PublishError, match="Could not reach QStash at http://127.0.0.1:9"),
    ):
        asyncio.run(add.adelay(1))


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_eager_mode_runs_the_task_from_async_code_too(qstash, no_result_store):
    calls.clear()
    result = asyncio.run(add.adelay(2, 3))
    assert isinstance(result, EagerResult)
    assert asyncio.run(result.aget()) == 5
    grouped = asyncio.run(group(add.s(1, 1), add.s(2, 2)).aapply_async())
    assert asyncio.run(grouped.aget()) == [2, 4]
    chained = asyncio.run(chain(add.s(1, 1), add.s(10)).aapply_async())
    assert chained.get() == 12
    assert calls == [(2, 3), (1, 1), (2, 2), (1, 1), (2, 10)]
    assert qstash.requests == []


def test_async_group_is_one_batch_and_chain_links_its_first_task(qstash, no_result_store):
    qstash.answer = (200, [{"messageId": "msg_1"}, {"messageId": "msg_2"}], {})
    result = asyncio.run(group(add.s(1, 1), add.s(2, 2)).aapply_async())
    assert isinstance(result, GroupResult)
    assert [child.id for child in result] == ["msg_1", "msg_2"]
    (batch,) = qstash.requests
    assert batch.path == "/v2/batch"
    bodies = [json.loads(item["body"]) for item in batch.json()]
    assert [(b["task"], b["args"], b["options"]) for b in bodies] == [
        (add.name, [1, 1], {"group_id": result.id}),
        (add.name, [2, 2], {"group_id": result.id}),
    ]
    qstash.answer = (200, {"messageId": "msg_recorded"}, {})
    qstash.requests.clear()
    asyncio.run(chain(add.s(1, 1), add.s(10)).aapply_async())
    (first,) = qstash.requests
    assert first.json()["args"] == [1, 1]
    assert first.headers["Upstash-Callback"].endswith("?django_qstash=link")
    qstash.requests.clear()
    asyncio.run(add.s(5).adelay(6))
    add.s(5).delay(6)
    async_request, sync_request = qstash.requests
    assert async_request.json() == sync_request.json()
    assert async_request.json()["args"] == [6, 5]  # Celery's partial application


@pytest.mark.django_db(transaction=True)
def test_aget_waits_for_the_stored_outcome_while_the_loop_goes_on(qstash):
    from asgiref.sync import sync_to_async

    from django_qstash.exceptions import TaskTimeout
    from django_qstash.results.models import TaskResult

    async def main() -> tuple[Any, int]:
        result = await add.adelay(1, 2)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        async def finish_later() -> None:
            await asyncio.sleep(0.3)
            await sync_to_async(TaskResult.objects.create)(
                task_id=result.id, task_name=add.name, status="SUCCESS", result=3
            )

        ticker = asyncio.create_task(tick())
        writer = asyncio.create_task(finish_later())
        value = await result.aget(timeout=10, interval=0.05)
        ticker.cancel()
        await writer
        return value, ticks

    value, ticks = asyncio.run(main())
    assert value == 3
    assert ticks >= 10  # the loop ran other work while aget() waited

    from django_qstash.result import AsyncResult

    with pytest.raises(TaskTimeout):
        asyncio.run(AsyncResult("msg_never").aget(timeout=0.2, interval=0.05))
