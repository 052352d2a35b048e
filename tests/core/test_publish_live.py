"""Publishing from anywhere, through the real path: the sample project served by gunicorn or
uvicorn, the QStash dev server delivering, the official SDK publishing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.signing import make_token

pytestmark = pytest.mark.timeout(120)

PROBE = "tests.support.asgi_probe:application"


@pytest.fixture(scope="module")
def uvicorn_server(
    tmp_path_factory: pytest.TempPathFactory, migrated_template_db: Any, qstash_devserver: Any
) -> Any:
    """The sample project under uvicorn (one worker), observed by the probe."""
    from tests.support.liveserver import DjangoServer

    server = DjangoServer(
        tmp_path_factory.mktemp("uvicorn"),
        qstash_devserver,
        template_db=migrated_template_db,
        server="uvicorn",
        asgi_app=PROBE,
    ).start()
    try:
        yield server
    finally:
        server.stop()


def probe(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/__probe__/", trust_env=False).json()  # type: ignore[no-any-return]


def post_signed(server: Any, path: str, body: bytes, token: str) -> httpx.Response:
    return httpx.post(
        server.url + path,
        content=body,
        headers={"Upstash-Signature": token, "Content-Type": "application/json"},
        trust_env=False,
    )


@pytest.mark.parametrize("path", ["/hooks/received/", "/hooks/received-async/"])
def test_a_message_published_to_a_view_of_your_own_reaches_it_verified(uvicorn_server, path):
    server = uvicorn_server
    task = "hook:received" if path == "/hooks/received/" else "hook:received_async"
    published = server.devserver.client().message.publish_json(
        url=server.url + path, body={"key": f"sdk{path}"}
    )
    (run,) = server.wait_for_runs(1, task=task, key=published.message_id)
    assert run["value"] == {"body": {"key": f"sdk{path}"}, "retried": 0}


@pytest.mark.parametrize("path", ["/hooks/received/", "/hooks/received-async/"])
def test_a_forged_or_replayed_request_never_reaches_the_view(uvicorn_server, path):
    server = uvicorn_server
    task = "hook:received" if path == "/hooks/received/" else "hook:received_async"
    body = json.dumps({"key": "forged"}).encode()
    url = server.url + path

    forged = post_signed(server, path, body, make_token(body, url, key="sig_not_the_key"))
    assert forged.status_code == 401
    assert forged.json()["status"] == "invalid_signature"
    unsigned = httpx.post(url, content=body, trust_env=False)
    assert unsigned.status_code == 401

    # A request signed with the dev server's key: accepted once, refused when replayed.
    token = make_token(body, url, key=server.devserver.keys()["current"])
    first = post_signed(server, path, body, token)
    assert first.status_code == 200, first.text
    replay = post_signed(server, path, body, token)
    assert replay.status_code == 403
    assert replay.json()["status"] == "replayed"
    rows = [r for r in server.task_runs(task) if r["value"]["body"] == {"key": "forged"}]
    assert len(rows) == 1


def test_the_probe_sees_the_thread_hop_of_sync_to_async(uvicorn_server):
    # The control: publishing with sync_to_async(task.delay), as async views had to, hops.
    server = uvicorn_server
    probe(server)  # clear
    answer = httpx.post(f"{server.url}/__probe__/control/", trust_env=False)
    assert answer.status_code == 200, server.log()[-2000:]
    server.wait_for_runs(1, task="record", key="control")
    seen = probe(server)["/__probe__/control/"]
    assert "django_qstash.task.Task.delay" in seen["sync_to_async"]
    assert seen["qstash_requests"] == [
        {"client": "sync", "path": "/v2/publish/" + server.webhook_url, "on_loop_thread": False}
    ]


def test_an_async_view_publishes_with_adelay_and_apublish_without_a_thread_hop(uvicorn_server):
    server = uvicorn_server
    probe(server)  # clear
    answers = []
    for key in ("async-1", "async-2", "async-3"):
        answer = httpx.post(f"{server.url}/enqueue/", json={"key": key}, trust_env=False)
        assert answer.status_code == 200, server.log()[-3000:]
        answers.append((key, answer.json()))
    for key, ids in answers:
        # The task ran (delivered by the dev server to the webhook) ...
        (run,) = server.wait_for_runs(1, task="record", key=key)
        assert run["value"] == {"via": "adelay"}
        # ... and the message published to the view of our own reached it, verified.
        (hook,) = server.wait_for_runs(1, task="hook:received", key=ids["message_id"])
        assert hook["value"] == {"body": {"key": key}, "retried": 0}

    seen = probe(server)["/enqueue/"]
    # Every request to QStash was sent by the async client, on the event loop's own thread.
    assert len(seen["qstash_requests"]) == 6
    assert all(r["client"] == "async" and r["on_loop_thread"] for r in seen["qstash_requests"])
    # Nothing of the publish path went through sync_to_async (Django itself may, for its
    # request_started/finished receivers) ...
    ours = ("django_qstash", "qstash", "httpx", "httpcore", "anyio", "example")
    assert [name for name in seen["sync_to_async"] if name.startswith(ours)] == []
    # ... nor through the loop's executor (sync_to_async's own use of it is counted above),
    # but for resolving QStash's address when the one kept-alive connection is opened.
    direct = [name for name in seen["executor"] if not name.startswith("asgiref.")]
    assert [name for name in direct if "getaddrinfo" not in name] == []
    assert len(direct) <= 1, direct


def test_publish_and_publish_batch_reach_views_of_your_own(uvicorn_server, publish_via):
    import django_qstash

    server = uvicorn_server
    publish_via(server)
    message_id = django_qstash.publish(f"{server.url}/hooks/received/", json={"key": "one"})
    (row,) = server.wait_for_runs(1, task="hook:received", key=message_id)
    assert row["value"] == {"body": {"key": "one"}, "retried": 0}

    ids = django_qstash.publish_batch(
        [
            {"url": f"{server.url}/hooks/received/", "json": {"key": "batch-sync"}},
            {"url": f"{server.url}/hooks/received-async/", "json": {"key": "batch-async"}},
        ]
    )
    assert len(set(ids)) == 2
    (sync_row,) = server.wait_for_runs(1, task="hook:received", key=ids[0])
    (async_row,) = server.wait_for_runs(1, task="hook:received_async", key=ids[1])
    assert sync_row["value"]["body"] == {"key": "batch-sync"}
    assert async_row["value"]["body"] == {"key": "batch-async"}
