"""The asyncio HTTP/1.1 transport of the async clients, against small real servers on loopback:
keep-alive, answers by length, chunked or until close, a kept-alive connection the server
dropped, TLS with hostname checks, timeouts and connection errors as httpx's exceptions."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_qstash.aio_transport import AsyncioTransport
from django_qstash.devserver.process import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[Any]], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


async def serve(
    handler: Handler, run: Callable[[str, list[Any]], Awaitable[Any]], **tls: Any
) -> Any:
    seen: list[Any] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(("connection",))
        try:
            await handler(reader, writer, seen)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, **tls)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    async with server:
        return await run(f"{scheme}://127.0.0.1:{port}", seen)


def plain_context() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


async def keep_alive_handler(reader: Any, writer: Any, seen: list[Any]) -> None:
    while True:
        head, body = await read_request(reader)
        seen.append((head.split(b"\r\n")[0], body))
        answer = b'{"messageId":"msg_%d"}' % len(seen)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
        await writer.drain()


def test_requests_reuse_one_kept_alive_connection_and_carry_the_body():
    async def run(url: str, seen: list[Any]) -> tuple[list[Any], list[Any]]:
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            answers = [
                (await client.post(f"{url}/v2/publish/x?y=1", content=b"abc")).json()
                for _ in range(3)
            ]
        return answers, seen

    answers, seen = asyncio.run(serve(keep_alive_handler, run))
    assert [a["messageId"] for a in answers] == ["msg_2", "msg_3", "msg_4"]
    assert seen.count(("connection",)) == 1
    assert seen[1] == (b"POST /v2/publish/x?y=1 HTTP/1.1", b"abc")


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"abcde",
        ),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", b"until the end"),
        (b"HTTP/1.0 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", b"nope"),
    ],
    ids=["chunked", "until-close", "http-1.0"],
)
def test_answers_by_length_chunked_or_until_close(answer, body):
    async def handler(reader: Any, writer: Any, seen: list[Any]) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()
        writer.close()

    async def run(url: str, seen: list[Any]) -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            return await client.get(url + "/")

    response = asyncio.run(serve(handler, run))
    assert response.content == body
    assert response.status_code in (200, 404)


def test_a_kept_alive_connection_the_server_dropped_is_replaced():
    async def handler(reader: Any, writer: Any, seen: list[Any]) -> None:
        await read_request(reader)
        # Keep-alive promised, then the server drops the idle connection (a timeout, a deploy).
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def run(url: str, seen: list[Any]) -> list[int]:
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            statuses = []
            for _ in range(3):
                statuses.append((await client.post(url + "/", content=b"x")).status_code)
                await asyncio.sleep(0.05)  # let the close arrive
            return statuses

    assert asyncio.run(serve(handler, run)) == [200, 200, 200]


def test_errors_and_timeouts_are_httpx_exceptions():
    async def silent(reader: Any, writer: Any, seen: list[Any]) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async def times_out(url: str, seen: list[Any]) -> None:
        async with httpx.AsyncClient(
            transport=AsyncioTransport(plain_context()), timeout=0.2
        ) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.post(url + "/", content=b"x")

    asyncio.run(serve(silent, times_out))

    async def refused() -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{free_port()}/")

    asyncio.run(refused())

    async def garbage(reader: Any, writer: Any, seen: list[Any]) -> None:
        await read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()

    async def protocol_error(url: str, seen: list[Any]) -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(url + "/")

    asyncio.run(serve(garbage, protocol_error))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        timeout=60,
    )
    if result.returncode:
        pytest.skip(f"openssl could not make a certificate: {result.stderr.decode()[-300:]}")
    return cert, key


def test_tls_verifies_the_certificate_and_the_host(certificate):
    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def run(url: str, seen: list[Any]) -> Any:
        trusting = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(transport=AsyncioTransport(trusting)) as client:
            answer = await client.post(url + "/v2/publish/x", content=b"tls")
        # The same server, from a client that does not trust it: refused before sending.
        async with httpx.AsyncClient(transport=AsyncioTransport(plain_context())) as client:
            with pytest.raises(httpx.ConnectError, match="certificate"):
                await client.post(url + "/v2/publish/x", content=b"never sent")
        # Trusted, but reached under another name than the certificate's.
        async with httpx.AsyncClient(transport=AsyncioTransport(trusting)) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(url.replace("127.0.0.1", "localhost") + "/")
        return answer, seen

    answer, seen = asyncio.run(serve(keep_alive_handler, run, ssl=server_context))
    assert answer.status_code == 200
    assert (b"POST /v2/publish/x HTTP/1.1", b"tls") in seen
    assert not any(entry[-1] == b"never sent" for entry in seen if len(entry) == 2)
