"""Fixtures of the dev server tests: a scriptable loopback receiver and an SDK client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.devserver import DevServerProcess, wait_until


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    #: Set when the receiver finished answering this request.
    done_at: float = 0.0
    #: Every header line as received, repeats included (``headers`` keeps one per name).
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def header_values(self, name: str) -> list[str]:
        """Every value sent under ``name`` (a repeated header appears once per line)."""
        return [v for k, v in self.raw_headers if k.lower() == name.lower()]


Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from per-path scripts."""

    url: str
    requests: list[Received] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    #: Seconds to sleep before answering, per path.
    delays: dict[str, float] = field(default_factory=dict)
    #: Paths whose requests block until the event is set.
    gates: dict[str, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    active: int = 0
    max_active: dict[str, int] = field(default_factory=dict)

    def script(self, path: str, *answers: Answer) -> str:
        """Answer requests to ``path`` with these, in order, then 200; return its full URL."""
        self.scripts[path] = list(answers)
        return self.url + path

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def wait(self, path: str, count: int = 1, timeout: float = 15) -> list[Received]:
        return wait_until(
            lambda: (lambda got: got if len(got) >= count else None)(self.at(path)),
            timeout=timeout,
            message=f"{count} request(s) to {path} (got {len(self.at(path))})",
        )

    def answer_for(self, path: str) -> Answer:
        with self.lock:
            script = self.scripts.get(path)
            if script:
                return script.pop(0)
        return (200, {"ok": True}, {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receiver: Receiver

    def _handle(self) -> None:
        rec = self.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        entry = Received(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            time.time(),
            raw_headers=list(self.headers.items()),
        )
        with rec.lock:
            rec.requests.append(entry)
            rec.active += 1
            rec.max_active[path] = max(rec.max_active.get(path, 0), rec.active)
        try:
            gate = rec.gates.get(path)
            if gate is not None:
                gate.wait(30)
            if rec.delays.get(path):
                time.sleep(rec.delays[path])
            status, payload, headers = rec.answer_for(path)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass
        finally:
            with rec.lock:
                rec.active -= 1
                entry.done_at = time.time()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    rec = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    handler.receiver = rec
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        for gate in rec.gates.values():
            gate.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(qstash_devserver: DevServerProcess) -> Any:
    """The official Python SDK (unchanged) pointed at the session's dev server."""
    return qstash_devserver.client()


NON_RETRYABLE: Answer = (489, {"error": "no"}, {"Upstash-NonRetryable-Error": "true"})
