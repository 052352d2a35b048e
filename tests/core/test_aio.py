"""The async client: one per event loop, connections kept alive, closed when the loop shuts down.
Every publish here goes over loopback HTTP to the recorder, through the SDK's AsyncQStash."""

from __future__ import annotations

import asyncio

from django.test import override_settings

from django_qstash import aio


async def publish_twice() -> object:
    client = await aio.get_async_client()
    assert await aio.get_async_client() is client
    for path in ("a", "b"):
        await client.message.publish(url=f"https://example.com/{path}", body=path)
    return client


def test_one_client_per_loop_reused_kept_alive_and_closed_at_shutdown(qstash):
    client = asyncio.run(publish_twice())
    assert [r.path for r in qstash.requests] == [
        "/v2/publish/https://example.com/a",
        "/v2/publish/https://example.com/b",
    ]
    # Both publishes went over one kept-alive connection.
    assert len({r.client for r in qstash.requests}) == 1
    # asyncio.run finalised the loop: the client's connections are closed, its entry gone.
    assert client.http._client.is_closed  # type: ignore[attr-defined]
    assert aio.loop_client_count() == 0


def test_each_loop_gets_its_own_client(qstash):
    first = asyncio.run(publish_twice())
    second = asyncio.run(publish_twice())
    assert first is not second
    assert len({r.client for r in qstash.requests}) == 2


def test_a_settings_change_builds_a_new_client_and_closes_the_old(qstash, recorder):
    async def main() -> tuple[object, object]:
        old = await aio.get_async_client()
        with override_settings(QSTASH_TOKEN="another-token"):
            new = await aio.get_async_client()
            await new.message.publish(url="https://example.com/x", body="x")
        assert old.http._client.is_closed
        return old, new

    old, new = asyncio.run(main())
    assert old is not new
    assert qstash.requests[-1].headers["Authorization"] == "Bearer another-token"


def test_close_async_client_closes_it_now(qstash):
    async def main() -> object:
        client = await aio.get_async_client()
        await aio.close_async_client()
        assert client.http._client.is_closed
        assert await aio.get_async_client() is not client
        return client

    asyncio.run(main())
    assert aio.loop_client_count() == 0
