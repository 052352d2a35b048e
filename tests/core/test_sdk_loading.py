"""Cold start: nothing of the SDK, httpx or TLS before the first publish; then the SDK without
the optional imports a Django process never uses, and one TLS context per process."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from django_qstash import sdk
from django_qstash.devserver.process import stop_process

ROOT = Path(__file__).resolve().parents[2]


def run_in_fresh_process(code: str, qstash_url: str) -> dict[str, object]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "QSTASH_URL": qstash_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# (Not ssl: a bare Django imports it already.)
HEAVY = ("qstash", "httpx", "httpcore", "certifi", "anyio", "jwt", "trio", "rich", "click")


@pytest.fixture
def qstash_stub() -> Iterator[str]:
    """The benchmarks' loopback stand-in for QStash's publish endpoint; its URL."""
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._qstash_stub"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    try:
        yield f"http://127.0.0.1:{stub.stdout.readline().strip()}"
    finally:
        stop_process(stub)


def test_setup_loads_nothing_of_the_sdk_and_the_first_publish_loads_only_what_it_uses(
    qstash_stub,
):
    # The optional modules must be installed for the test to mean something (they are in the
    # test environment: selenium brings trio, the test group rich, celery click).
    for name in ("trio", "rich", "click", "jwt"):
        pytest.importorskip(name)
    found = run_in_fresh_process(
        f"""
        import json, sys
        import django
        django.setup()
        from benchmarks.startup_tasks import startup_noop
        before = [m for m in {HEAVY!r} if m in sys.modules]
        message_id = startup_noop.delay(1).id
        after = [m for m in {HEAVY!r} if m in sys.modules]
        import httpx
        import httpcore._synchronization as sync
        # The deferred modules still work for whoever uses them.
        import jwt
        token = jwt.encode({{"a": 1}}, "k", algorithm="HS256")
        trio_lock = type(sync.trio.Lock()).__name__
        from django_qstash.publisher import get_client
        context = get_client().http._client._transport._pool._ssl_context
        # An async client works through the deferred anyio.
        import asyncio
        from django_qstash import sdk
        async def publish_async():
            client = sdk.new_client(sdk.load().AsyncQStash, "t", retry=False, base_url=None)
            try:
                answer = await client.message.publish(url="http://127.0.0.1:1/", body="{{}}")
            finally:
                await client.http._client.aclose()
            return answer.message_id
        print(json.dumps({{
            "before": before, "after": after, "id": message_id, "jwt": jwt.decode(
                token, "k", algorithms=["HS256"]), "httpx_main": callable(httpx.main),
            "trio_lock": trio_lock, "trusted": context.cert_store_stats()["x509_ca"],
            "async_id": asyncio.run(publish_async()),
        }}))
        """,
        qstash_stub,
    )
    assert found["before"] == []
    assert found["id"] == "msg_benchmark"
    assert {"qstash", "httpx", "httpcore"} <= set(found["after"])  # type: ignore[arg-type]
    # Deferred until used: the CLI's click and rich, trio, anyio, PyJWT; and no TLS store is
    # loaded for a plain-http QStash URL (the dev server).
    assert not {"rich", "click", "trio", "anyio", "jwt"} & set(found["after"])  # type: ignore[arg-type]
    assert found["trusted"] == 0
    assert found["jwt"] == {"a": 1}
    assert found["httpx_main"] is True
    assert found["trio_lock"] == "Lock"
    assert found["async_id"] == "msg_benchmark"


def test_a_plain_http_url_gets_a_context_that_trusts_nothing():
    context = sdk.tls_context("http://127.0.0.1:8080")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] == 0
    assert sdk.tls_context("http://localhost:1") is context


def test_an_https_url_gets_one_verified_context_for_every_client():
    context = sdk.tls_context("https://qstash.upstash.io")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] > 0
    assert sdk.tls_context(None) is context  # the SDK's default URL is https

    qstash = sdk.load()
    sync_client = sdk.new_client(qstash.QStash, "t", retry=False, base_url="https://a.example")
    async_client = sdk.new_client(
        qstash.AsyncQStash, "t", retry=False, base_url="https://b.example"
    )
    assert sync_client.http._client._transport._pool._ssl_context is context
    assert async_client.http._client._transport._pool._ssl_context is context


def test_clients_built_by_others_keep_httpx_defaults():
    qstash = sdk.load()
    theirs = qstash.QStash("t", base_url="http://127.0.0.1:9")
    # Not the shared context: httpx built its own, as it always does.
    assert theirs.http._client._transport._pool._ssl_context is not sdk.tls_context(
        "http://127.0.0.1:9"
    )
    assert theirs.http._client._transport._pool._ssl_context.cert_store_stats()["x509_ca"] > 0
