"""HTTP transport for the API: a threading ``http.server`` speaking keep-alive HTTP/1.1.

``self.path`` of ``BaseHTTPRequestHandler`` is the raw request target, which is what publish
needs: QStash reads the destination from the path as the client wrote it, unencoded.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django_qstash.devserver.api.base import Request, Response
from django_qstash.devserver.options import Headers

logger = logging.getLogger("django_qstash.devserver")

MAX_REQUEST_BODY = 10 * 1024 * 1024


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        answer: Callable[[Request], Response],
        *,
        verbose: bool = False,
    ) -> None:
        self.answer = answer
        self.verbose = verbose
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QStashDev"
    # Headers and body leave in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms per call on a keep-alive connection).
    disable_nagle_algorithm = True
    server: ApiServer

    def _handle(self) -> None:
        target = self.path
        if "://" in target.split("/", 1)[0] or target.lower().startswith(("http://", "https://")):
            # Absolute-form target (sent through a proxy): keep only path and query.
            parts = urllib.parse.urlsplit(target)
            target = parts.path + ("?" + parts.query if parts.query else "")
        path, _, query = target.partition("?")
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunked = self._read_chunked()
            body = chunked or b""
            length = -1 if chunked is None else len(body)
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            body = b""
        if length < 0 or length > MAX_REQUEST_BODY:
            self._send(
                Response(413, {"error": f"the body is malformed or over {MAX_REQUEST_BODY} bytes"})
            )
            self.close_connection = True
            return
        if length and not body:
            body = self.rfile.read(length)
        request = Request(
            method=self.command,
            path=path,
            query=query,
            headers=Headers(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
        )
        try:
            response = self.server.answer(request)
        except Exception as exc:
            logger.exception("qstash dev server: %s %s failed", self.command, path)
            response = Response(500, {"error": f"internal error: {type(exc).__name__}: {exc}"})
        self._send(response)

    def _read_chunked(self) -> bytes | None:
        """A streamed body (fetch with a stream) arrives chunked; ``None``: malformed or too big."""
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                chunk_size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                return None
            if chunk_size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size += chunk_size
            if size > MAX_REQUEST_BODY:
                return None
            chunks.append(self.rfile.read(chunk_size))
            self.rfile.readline(1024)

    def _send(self, response: Response) -> None:
        data = b"" if response.payload is None else json.dumps(response.payload).encode()
        self.send_response(response.status)
        if response.payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            logger.info("%s %s", self.address_string(), format % args)
