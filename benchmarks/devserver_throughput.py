"""The dev server end to end: publish → dev server → the sample project under gunicorn → task start.

Measures, against a 2-worker gunicorn running ``sample_project`` (SQLite, results app installed):

* throughput: a burst of messages published through the batch API, until the last task ran;
* latency: publish → task start (the ``TaskRun`` row's ``created``), for messages published one
  at a time, p50 and p99.

The baseline is the same work without the dev server: the same signed requests POSTed straight
to the webhook from this process (same concurrency as the dev server's). Run on demand:
``python -m benchmarks.devserver_throughput [--messages N] [--samples N]``; never a timed test.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from django_qstash.devserver.process import free_port
from django_qstash.devserver.process import wait_until as poll_until

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PROJECT = ROOT / "sample_project"
MAX_IN_FLIGHT = 64


def wait_until(probe: Callable[[], Any], timeout: float, what: str) -> Any:
    # Fixed, fine polling: the benchmark times how long the deliveries took.
    return poll_until(probe, timeout=timeout, what=what, interval=0.01, max_interval=0.01)


class Stack:
    """A dev server and a 2-worker gunicorn running the sample project, in a temp directory."""

    def __init__(self, workdir: Path, workers: int, threads: int) -> None:
        self.workdir = workdir
        self.workers = workers
        self.threads = threads
        self.processes: list[subprocess.Popen[bytes]] = []
        self.database = workdir / "sample.sqlite3"
        self.django_port = free_port()
        self.django_url = f"http://127.0.0.1:{self.django_port}"
        self.webhook_url = f"{self.django_url}/qstash/webhook/"
        self.qstash_url = ""
        self.token = ""
        self.keys: tuple[str, str] = ("", "")

    def _spawn(self, command: list[str], log: str, env: dict[str, str] | None = None) -> Path:
        path = self.workdir / log
        with open(path, "wb") as out:
            self.processes.append(
                subprocess.Popen(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env or {**os.environ, "PYTHONUNBUFFERED": "1"},
                    cwd=SAMPLE_PROJECT,
                )
            )
        return path

    def start_devserver(self) -> None:
        log = self._spawn(
            [
                sys.executable,
                "-m",
                "django_qstash.devserver",
                "--port",
                "0",
                "--db",
                str(self.workdir / "qstash.db"),
                "--fast-retries",
                "--quiet",
                "--max-in-flight",
                str(MAX_IN_FLIGHT),
            ],
            "devserver.log",
        )

        def printed() -> str | None:
            text = log.read_text()
            return text if "QSTASH_NEXT_SIGNING_KEY=" in text else None

        banner = wait_until(printed, 20, "the dev server")

        def value(name: str) -> str:
            match = re.search(rf"^{name}=(\S+)$", banner, re.MULTILINE)
            assert match is not None
            return match.group(1)

        self.qstash_url = value("QSTASH_URL")
        self.token = value("QSTASH_TOKEN")
        self.keys = (value("QSTASH_CURRENT_SIGNING_KEY"), value("QSTASH_NEXT_SIGNING_KEY"))

    def django_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "QSTASH_")) and k != "DATABASE_URL"
        }
        env.update(
            DJANGO_SETTINGS_MODULE="cfehome.settings",
            PYTHONPATH=os.pathsep.join([str(SAMPLE_PROJECT), str(ROOT)]),
            DATABASE_URL=f"sqlite:///{self.database}",
            DJANGO_DEBUG="False",
            DJANGO_QSTASH_FORCE_HTTPS="False",
            DJANGO_QSTASH_DOMAIN=self.django_url,
            QSTASH_URL=self.qstash_url,
            QSTASH_TOKEN=self.token,
            QSTASH_CURRENT_SIGNING_KEY=self.keys[0],
            QSTASH_NEXT_SIGNING_KEY=self.keys[1],
            QSTASH_LOG_LEVEL="WARNING",
            DJANGO_QSTASH_RESULTS_STORE_PENDING="False",  # as measured before it became the default
        )
        return env

    def start_django(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
            env=self.django_env(),
            cwd=SAMPLE_PROJECT,
            check=True,
        )
        with sqlite3.connect(self.database) as db:
            db.execute("PRAGMA journal_mode = WAL")  # two worker processes write concurrently
        self._spawn(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "cfehome.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.django_port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--log-level",
                "warning",
            ],
            "gunicorn.log",
            self.django_env(),
        )

        def ready() -> bool:
            try:
                httpx.get(self.django_url + "/admin/login/", timeout=1, trust_env=False)
            except httpx.HTTPError:
                return False
            return True

        wait_until(ready, 30, "gunicorn")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    # ---------------------------------------------------------------- measuring

    def started_at(self, prefix: str) -> dict[str, tuple[float, float]]:
        """key → (publish time carried in the message, task start time), for keys with prefix."""
        with sqlite3.connect(self.database, timeout=30) as db:
            rows = db.execute(
                "SELECT key, value, created FROM example_taskrun WHERE key LIKE ?", (prefix + "%",)
            ).fetchall()
        result = {}
        for key, value, created in rows:
            started = datetime.datetime.fromisoformat(str(created))
            if started.tzinfo is None:
                started = started.replace(tzinfo=datetime.timezone.utc)
            result[key] = (float(json.loads(value)), started.timestamp())
        return result

    def retries(self) -> int:
        response = httpx.get(
            f"{self.qstash_url}/v2/events",
            params={"state": "RETRY", "count": 10000},
            headers={"Authorization": f"Bearer {self.token}"},
            trust_env=False,
        )
        return len(response.json()["events"])


def body(key: str, published: float) -> str:
    from django_qstash import envelope

    return envelope.build("example.tasks.record", [key, published], {}).decode()


def via_devserver_burst(stack: Stack, client: Any, count: int) -> float:
    prefix = f"tp-{uuid.uuid4().hex[:6]}-"
    start = time.time()
    for offset in range(0, count, 100):
        client.message.batch(
            [
                {
                    "url": stack.webhook_url,
                    "body": body(f"{prefix}{i}", time.time()),
                    "content_type": "application/json",
                }
                for i in range(offset, min(count, offset + 100))
            ]
        )
    wait_until(lambda: len(stack.started_at(prefix)) >= count, 300, f"{count} deliveries")
    last = max(started for _, started in stack.started_at(prefix).values())
    return count / (last - start)


def direct_burst(stack: Stack, count: int) -> float:
    from django_qstash.devserver import tokens

    prefix = f"direct-{uuid.uuid4().hex[:6]}-"
    http = httpx.Client(
        trust_env=False,
        limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT),
    )

    def post(i: int) -> int:
        data = body(f"{prefix}{i}", time.time()).encode()
        headers = {
            "Content-Type": "application/json",
            "Upstash-Signature": tokens.sign(data, stack.webhook_url, stack.keys[0]),
            "Upstash-Message-Id": f"msg_direct_{prefix}{i}",
            "Upstash-Retried": "0",
        }
        return http.post(stack.webhook_url, content=data, headers=headers).status_code

    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(MAX_IN_FLIGHT) as pool:
        statuses = list(pool.map(post, range(count)))
    assert all(s == 200 for s in statuses), sorted(set(statuses))
    last = max(started for _, started in stack.started_at(prefix).values())
    return count / (last - start)


def latencies(
    stack: Stack, publish: Callable[[str, float], None], samples: int, tag: str
) -> list[float]:
    prefix = f"{tag}-{uuid.uuid4().hex[:6]}-"
    for i in range(samples):
        publish(f"{prefix}{i}", time.time())
        time.sleep(0.01)  # one at a time: latency, not queueing

    def complete() -> dict[str, tuple[float, float]] | None:
        runs = stack.started_at(prefix)
        return runs if len(runs) >= samples else None

    runs = wait_until(complete, 120, f"{samples} latency samples")
    return sorted((started - published) * 1000 for published, started in runs.values())


NOOP_RECEIVER = """
import sys, time, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
state = {"count": 0, "last": 0.0}
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            state["count"] += 1
            state["last"] = time.time()
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):
        data = f"{state['count']} {state['last']}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(data)))
        self.end_headers(); self.wfile.write(data)
    def log_message(self, *args): pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def devserver_only_burst(stack: Stack, client: Any, count: int) -> float:
    """The dev server's own capacity: the same burst to a no-op HTTP receiver."""
    receiver = subprocess.Popen(
        [sys.executable, "-c", NOOP_RECEIVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}"

        def progress() -> tuple[int, float]:
            count_text, last = httpx.get(url, trust_env=False).text.split()
            return int(count_text), float(last)

        start = time.time()
        for offset in range(0, count, 100):
            client.message.batch(
                [{"url": url + "/noop", "body": "x"} for _ in range(min(100, count - offset))]
            )
        wait_until(lambda: progress()[0] >= count, 120, "the no-op receiver")
        return count / (progress()[1] - start)
    finally:
        receiver.terminate()
        receiver.wait()


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def main(messages: int = 500, samples: int = 200, workers: int = 2, threads: int = 1) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="devserver-bench-"))
    stack = Stack(workdir, workers, threads)
    try:
        stack.start_devserver()
        stack.start_django()
        from qstash import QStash

        client = QStash(stack.token, base_url=stack.qstash_url, retry=False)
        direct = httpx.Client(trust_env=False)

        def publish_devserver(key: str, published: float) -> None:
            client.message.publish(
                url=stack.webhook_url, body=body(key, published), content_type="application/json"
            )

        def publish_direct(key: str, published: float) -> None:
            from django_qstash.devserver import tokens

            data = body(key, published).encode()
            direct.post(
                stack.webhook_url,
                content=data,
                headers={
                    "Content-Type": "application/json",
                    "Upstash-Signature": tokens.sign(data, stack.webhook_url, stack.keys[0]),
                    "Upstash-Message-Id": f"msg_{key}",
                },
            )

        via_devserver_burst(stack, client, 50)  # warm up both gunicorn workers
        rate_devserver = via_devserver_burst(stack, client, messages)
        rate_direct = direct_burst(stack, messages)
        rate_noop = devserver_only_burst(stack, client, messages * 4)
        lat_devserver = latencies(stack, publish_devserver, samples, "lat")
        lat_direct = latencies(stack, publish_direct, samples, "dlat")
        retries = stack.retries()
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def row(name: str, rate: float, lat: list[float]) -> str:
        return f"  {name:<28} {rate:10.0f} {percentile(lat, 0.5):9.1f} {percentile(lat, 0.99):9.1f}"

    kind = f"{workers} sync worker(s)" if threads <= 1 else f"{workers} workers x {threads} threads"
    return "\n".join(
        [
            f"dev server end to end: gunicorn {kind}, sample project on SQLite, "
            f"{messages} messages per burst, {samples} latency samples",
            f"  {'':<28} {'tasks/s':>10} {'p50 ms':>9} {'p99 ms':>9}",
            row("publish → dev server → task", rate_devserver, lat_devserver),
            row("signed POST → task (baseline)", rate_direct, lat_direct),
            f"  dev server / baseline throughput: {rate_devserver / rate_direct:.2f}x; "
            f"retries during the run: {retries}",
            f"  the dev server alone (to a no-op receiver, {messages * 4} messages): "
            f"{rate_noop:.0f} deliveries/s",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    print(main(options.messages, options.samples, options.workers, options.threads))
