"""The async SDK client's transport: concurrent publishes spread over kept-alive connections.

Everything here goes over loopback HTTP to the recorder (a real threaded HTTP/1.1 server); the
recorder notes each request's client port, so distinct ports are distinct TCP connections.
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from django_qstash import aio
from django_qstash.sdk_transport import SpreadTransport, tls_context

CONCURRENT = 50


def test_concurrent_publishes_keep_their_connections_alive(qstash):
    """300 publishes through the SDK's AsyncQStash, 50 in flight at any time, each answered after
    20 ms: they share at most 50 connections. (httpx's default pool closes a connection that goes
    idle while more than 20 are open, so it opens new ones all the time: up to one a publish.)"""
    qstash.answer_delay = 0.02

    async def main() -> list[str]:
        gate = asyncio.Semaphore(CONCURRENT)

        async def one(n: int) -> str:
            async with gate:
                return await aio.publish(f'{{"n": {n}}}'.encode(), url="https://example.com/h")

        return await asyncio.gather(*(one(n) for n in range(6 * CONCURRENT)))

    assert asyncio.run(main()) == ["msg_recorded"] * 6 * CONCURRENT
    assert sorted(r.json()["n"] for r in qstash.requests) == list(range(6 * CONCURRENT))
    assert len({r.client for r in qstash.requests}) <= CONCURRENT


def test_never_more_connections_than_its_size_and_every_request_gets_its_turn(recorder):
    transport = SpreadTransport(3)

    async def main() -> list[int]:
        async with httpx.AsyncClient(transport=transport) as client:
            responses = await asyncio.gather(
                *(client.post(f"{recorder.url}/{n}", content=b"x") for n in range(30))
            )
            assert transport.connections == 3
            return [response.status_code for response in responses]

    assert asyncio.run(main()) == [200] * 30
    assert sorted(int(r.path[1:]) for r in recorder.requests) == list(range(30))
    assert len({r.client for r in recorder.requests}) <= 3


def test_a_request_waits_for_a_free_connection_no_longer_than_the_pool_timeout(recorder):
    async def main() -> None:
        transport = SpreadTransport(1)
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"{recorder.url}/held") as held:
                assert held.status_code == 200
                with pytest.raises(httpx.PoolTimeout):
                    await client.get(f"{recorder.url}/late", timeout=httpx.Timeout(5.0, pool=0.05))
                await held.aread()
            # Closing the held response gave its connection back: the next request uses it.
            assert (await client.get(f"{recorder.url}/next")).status_code == 200
            assert transport.connections == 1

    asyncio.run(main())
    assert [r.path for r in recorder.requests] == ["/held", "/next"]
    assert len({r.client for r in recorder.requests}) == 1


def test_a_cancelled_waiter_does_not_keep_the_connection(recorder):
    async def main() -> None:
        transport = SpreadTransport(1)
        async with httpx.AsyncClient(transport=transport) as client:
            async with client.stream("GET", f"{recorder.url}/held"):
                waiter = asyncio.ensure_future(client.get(f"{recorder.url}/cancelled"))
                await asyncio.sleep(0.05)
                assert not waiter.done()  # waiting for the one connection
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
            response = await asyncio.wait_for(client.get(f"{recorder.url}/after"), 5)
            assert response.status_code == 200

    asyncio.run(main())
    assert [r.path for r in recorder.requests] == ["/held", "/after"]


def test_a_failed_request_gives_its_connection_back(recorder):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}"

    async def main() -> None:
        async with httpx.AsyncClient(transport=SpreadTransport(1)) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"{dead}/nothing")
            response = await asyncio.wait_for(client.get(f"{recorder.url}/after"), 5)
            assert response.status_code == 200

    asyncio.run(main())
    assert [r.path for r in recorder.requests] == ["/after"]


def test_the_async_sdk_client_publishes_through_it_and_closes_it(qstash):
    async def main() -> SpreadTransport:
        client = await aio.get_async_client()
        await aio.publish(b"{}", url="https://example.com/hook")
        transport = client.http._client._transport  # type: ignore[attr-defined]
        assert isinstance(transport, SpreadTransport)
        assert transport.connections == 1
        return transport

    transport = asyncio.run(main())
    assert transport.connections == 0  # closed with the loop's client
    assert len(qstash.requests) == 1


def test_one_tls_context_for_every_connection():
    assert tls_context() is tls_context()
    assert SpreadTransport()._verify is tls_context()
