"""The dev server used in-process (``with DevServer(...)``), and HTTP details of its API."""

from __future__ import annotations

import socket

import httpx
import pytest

from django_qstash.devserver.config import DevServerConfig
from django_qstash.devserver.server import DevServer


@pytest.fixture
def server():
    with DevServer(DevServerConfig(port=0, db=":memory:", quiet=True)) as running:
        yield running


def _auth(server: DevServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def test_chunked_body(server: DevServer):
    def stream():
        yield b'{"a":'
        yield b" 1}"

    response = httpx.post(
        f"{server.url}/v2/publish/http://127.0.0.1:9/x",
        content=stream(),
        headers={**_auth(server), "Upstash-Delay": "60s"},
        trust_env=False,
    )
    assert response.status_code == 200
    message = httpx.get(
        f"{server.url}/v2/messages/{response.json()['messageId']}", headers=_auth(server)
    ).json()
    assert message["body"] == '{"a": 1}'


def test_raw_request_target_keeps_encoded_slashes(server: DevServer):
    # A %2F in the destination must not become "/" (the raw target is parsed).
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /v2/publish/http://127.0.0.1:9/a%2Fb?x=1 HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + server.token.encode() + b"\r\n"
            b"Upstash-Delay: 60s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert b" 200 " in answer.split(b"\r\n")[0]
    message_id = answer.rsplit(b'"messageId": "', 1)[1].split(b'"')[0].decode()
    message = httpx.get(f"{server.url}/v2/messages/{message_id}", headers=_auth(server)).json()
    assert message["url"] == "http://127.0.0.1:9/a%2Fb?x=1"


def test_wrong_method_is_405_and_health_needs_no_token(server: DevServer):
    response = httpx.put(f"{server.url}/v2/keys", headers=_auth(server))
    assert response.status_code == 405
    assert "error" in response.json()
    assert httpx.get(server.url + "/").status_code == 200


def test_keys_are_stored(tmp_path):
    database = str(tmp_path / "keys.db")
    with DevServer(DevServerConfig(port=0, db=database, quiet=True)) as first:
        rotated = first.keys.rotate()
    with DevServer(DevServerConfig(port=0, db=database, quiet=True)) as second:
        assert second.keys.pair() == rotated
    explicit = DevServerConfig(
        port=0, db=database, quiet=True, current_signing_key="sig_a" * 6, next_signing_key="sig_b"
    )
    with DevServer(explicit) as third:
        assert third.keys.pair() == ("sig_a" * 6, "sig_b")


def test_redaction_and_header_forward(server: DevServer):
    response = httpx.post(
        f"{server.url}/v2/publish/http://127.0.0.1:9/r",
        content=b"secret",
        headers={
            **_auth(server),
            "Upstash-Delay": "60s",
            "Upstash-Header-Forward": "true",
            "X-Plain": "p",
            "Upstash-Forward-Authorization": "Bearer hidden",
            "Upstash-Redact-Fields": "body,header[Authorization]",
        },
    )
    message_id = response.json()["messageId"]
    message = httpx.get(f"{server.url}/v2/messages/{message_id}", headers=_auth(server)).json()
    assert message["body"] == "REDACTED"
    assert message["header"]["Authorization"] == ["REDACTED"]
    assert message["header"]["X-Plain"] == ["p"]  # forwarded by Upstash-Header-Forward
    assert "Host" not in message["header"]
    events = httpx.get(
        f"{server.url}/v2/events", params={"messageId": message_id}, headers=_auth(server)
    ).json()["events"]
    assert "body" not in events[0]


def test_js_style_query_parameters(server: DevServer):
    ids = [
        httpx.post(
            f"{server.url}/v2/publish/http://127.0.0.1:9/js",
            content=b"x",
            headers={**_auth(server), "Upstash-Delay": "60s"},
        ).json()["messageId"]
        for _ in range(2)
    ]
    cancelled = httpx.request(
        "DELETE",
        f"{server.url}/v2/messages",
        params=[("messageIds", ids[0]), ("messageIds", ids[1])],
        headers=_auth(server),
    ).json()
    assert cancelled == {"cancelled": 2}
    deleted = httpx.request(
        "DELETE", f"{server.url}/v2/dlq", params={"dlqIds": "0-0"}, headers=_auth(server)
    ).json()
    assert deleted == {"deleted": 0}
