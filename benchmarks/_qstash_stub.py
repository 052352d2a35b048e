"""A minimal keep-alive HTTP/1.1 server answering every request like QStash's publish.

Run as a separate process so the client under test has the interpreter to itself. It counts the
TCP connections it accepted (GET /connections), to show that publishes reuse one connection. A
second argument delays every answer by that many milliseconds, to model the network between an
application and QStash (loopback answers in microseconds; QStash's API does not).
"""

from __future__ import annotations

import asyncio
import json
import sys

ANSWER = b'{"messageId":"msg_benchmark"}'
connections = 0
latency = 0.0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global connections
    connections += 1
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            payload = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /connections"):
                body = str(connections).encode()
            elif head.startswith(b"POST /v2/batch"):
                # One answer per message of the batch, as QStash gives.
                body = b"[" + b",".join([ANSWER] * len(json.loads(payload))) + b"]"
            else:
                body = ANSWER
            if latency:  # QStash's round trip over a real network, when asked to model it
                await asyncio.sleep(latency)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    # python -m benchmarks._qstash_stub [port] [latency in ms]
    latency = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
