"""A loopback HTTP server that records every request it receives and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: The client's (host, port): one port for many requests means one kept-alive connection.
    client: tuple[str, int] = ("", 0)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    url: str
    requests: list[RecordedRequest] = field(default_factory=list)
    #: (status, json body, headers) answered to every request; change it in a test.
    answer: tuple[int, Any, dict[str, str]] = (200, {"messageId": "msg_recorded"}, {})
    event: threading.Event = field(default_factory=threading.Event)
    #: Seconds to wait before each answer (a network round trip); change it in a test.
    answer_delay: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    recorder: Recorder
    protocol_version = "HTTP/1.1"  # keep-alive, as QStash's API
    disable_nagle_algorithm = True

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.recorder.requests.append(
            RecordedRequest(
                self.command, self.path, dict(self.headers.items()), body, self.client_address
            )
        )
        if self.recorder.answer_delay:
            time.sleep(self.recorder.answer_delay)
        status, payload, headers = self.recorder.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.recorder.event.set()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Server(ThreadingHTTPServer):
    # Room for many clients connecting at once (the default backlog of 5 resets some of them).
    request_queue_size = 128


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    """A real HTTP server on 127.0.0.1 (a free port) that records requests."""
    handler = type("Handler", (_Handler,), {})
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    rec = Recorder(url=f"http://127.0.0.1:{server.server_address[1]}")
    handler.recorder = rec
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def qstash(recorder: Recorder) -> Iterator[Recorder]:
    """Point the publisher at the loopback recorder, which answers like QStash's publish."""
    with override_settings(QSTASH_URL=recorder.url):
        yield recorder
