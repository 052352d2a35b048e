"""A loopback HTTP proxy that forwards each request to an upstream server and, for the first
``drop`` requests, throws the upstream's answer away and closes the connection: the publisher's
view of a QStash that enqueued a message and whose answer was lost on the way back."""

from __future__ import annotations

import socket
import threading
from typing import Any


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message (headers and a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class LossyProxy:
    def __init__(self, upstream: str, drop: int = 1) -> None:
        host, port = upstream.split("//", 1)[1].rstrip("/").split(":")
        self.upstream = (host, int(port))
        self.drop = drop
        self.forwarded = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            while True:
                request = _read_message(client)
                if not request:
                    return
                # One request per upstream connection: ask it to close after answering.
                head, _, body = request.partition(b"\r\n\r\n")
                head = b"\r\n".join(
                    line
                    for line in head.split(b"\r\n")
                    if not line.lower().startswith(b"connection:")
                )
                with socket.create_connection(self.upstream) as upstream:
                    upstream.sendall(head + b"\r\nConnection: close\r\n\r\n" + body)
                    answer = _read_message(upstream)
                with self._lock:
                    self.forwarded += 1
                    lose = self.forwarded <= self.drop
                if lose:
                    return  # the upstream acted on it; the client never hears back
                client.sendall(answer)

    def close(self) -> None:
        self._server.close()

    def __enter__(self) -> LossyProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
