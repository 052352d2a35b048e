"""``@verify_qstash`` and ``verify_qstash_request`` through Django's test clients: the webhook's
signature rules, for views of your own (the real-server path is in test_publish_live.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client, RequestFactory, override_settings

from django_qstash import hooks, verify_qstash_request
from django_qstash.receiving import InvalidSignature, QStashMessage, ReplayedSignature
from tests.core import receiving_urls
from tests.support.signing import NEXT_KEY, make_token

pytestmark = pytest.mark.urls("tests.core.receiving_urls")

ORIGIN = "http://127.0.0.1:8000"
BODY = b'{"build": 42}'


@pytest.fixture(autouse=True)
def clear_received() -> Iterator[None]:
    receiving_urls.received.clear()
    yield
    receiving_urls.received.clear()


def post(
    path: str,
    body: bytes = BODY,
    *,
    token: str | None = None,
    asynchronous: bool = False,
    client: Client | None = None,
    **headers: str,
) -> Any:
    headers.setdefault("Upstash-Message-Id", "msg_own")
    if token is None:
        token = make_token(body, ORIGIN + path)
    if token:
        headers["Upstash-Signature"] = token
    if asynchronous:

        async def send() -> Any:
            return await AsyncClient().post(
                path, body, content_type="application/json", headers=headers
            )

        return async_to_sync(send)()
    return (client or Client()).post(path, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize(("path", "view"), [("/hooks/sync/", "sync"), ("/hooks/async/", "async")])
def test_a_signed_request_reaches_the_view_with_its_message(no_result_store, path, view):
    response = post(path, asynchronous=view == "async", **{"Upstash-Retried": "2"})
    assert response.status_code == 200, response.content
    assert response.json() == {"view": view, "message_id": "msg_own", "url": ORIGIN + path}
    assert receiving_urls.received == [(view, "msg_own", 2, BODY)]


#: A defect of a signature, as a token for the URL given, and the reason the answer names.
DEFECTS = {
    "missing": (lambda url: "", "missing Upstash-Signature"),
    "garbage": (lambda url: "garbage", "not a well-formed JWT"),
    "other body": (lambda url: make_token(b"{}", url), "body does not match"),
    "other url": (lambda url: make_token(BODY, url + "other/"), "another URL"),
    "forged key": (lambda url: make_token(BODY, url, key="sig_forged"), "current or the next"),
    "expired": (lambda url: make_token(BODY, url, now=time.time() - 3600), "expired"),
}


@pytest.mark.parametrize("path", ["/hooks/sync/", "/hooks/async/"])
@pytest.mark.parametrize("defect", DEFECTS)
def test_a_bad_signature_gets_401_and_the_view_never_runs(no_result_store, path, defect):
    make, error = DEFECTS[defect]
    response = post(path, token=make(ORIGIN + path), asynchronous="async" in path)
    assert response.status_code == 401
    assert response.json()["status"] == "invalid_signature"
    assert error in response.json()["error"]
    assert receiving_urls.received == []


def test_the_query_string_is_part_of_the_signed_url(no_result_store):
    signed_for_plain = make_token(BODY, ORIGIN + "/hooks/sync/")
    assert post("/hooks/sync/?env=prod", token=signed_for_plain).status_code == 401
    signed = make_token(BODY, ORIGIN + "/hooks/sync/?env=prod")
    assert post("/hooks/sync/?env=prod", token=signed).status_code == 200


@override_settings(ALLOWED_HOSTS=["*"])
def test_the_url_comes_from_settings_not_the_host_header(no_result_store):
    forged = make_token(BODY, "http://attacker.example/hooks/sync/")
    response = Client().post(
        "/hooks/sync/",
        BODY,
        content_type="application/json",
        headers={"Upstash-Signature": forged},
        HTTP_HOST="attacker.example",
    )
    assert response.status_code == 401
    assert receiving_urls.received == []


def test_a_url_given_to_the_decorator_is_the_one_checked(no_result_store):
    given = "https://hooks.example.com/build/"
    assert post("/hooks/given/", token=make_token(BODY, given)).json()["url"] == given
    assert post("/hooks/given/").status_code == 401  # signed for the settings-built URL


def test_the_next_signing_key_is_accepted(no_result_store):
    token = make_token(BODY, ORIGIN + "/hooks/sync/", key=NEXT_KEY)
    assert post("/hooks/sync/", token=token).status_code == 200


@override_settings(DJANGO_QSTASH_CLOCK_TOLERANCE=5)
def test_the_clock_tolerance_applies(no_result_store):
    url = ORIGIN + "/hooks/sync/"
    slightly_ahead = make_token(BODY, url, now=time.time() + 3)
    too_far_ahead = make_token(BODY, url, now=time.time() + 30)
    assert post("/hooks/sync/", token=slightly_ahead).status_code == 200
    response = post("/hooks/sync/", token=too_far_ahead)
    assert response.status_code == 401
    assert "not valid yet" in response.json()["error"]


@override_settings(DJANGO_QSTASH_MAX_BODY_SIZE=8)
def test_a_body_over_the_limit_gets_413(no_result_store):
    response = post("/hooks/sync/")
    assert response.status_code == 413
    assert response.json()["status"] == "too_large"
    assert receiving_urls.received == []


def test_csrf_protection_does_not_refuse_qstash(no_result_store):
    client = Client(enforce_csrf_checks=True)
    assert post("/hooks/sync/", client=client).status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("asynchronous", [False, True])
def test_with_the_results_app_a_replay_gets_403_and_the_view_runs_once(asynchronous):
    assert hasattr(hooks.get_result_store(), "remember_signature")
    path = "/hooks/async/" if asynchronous else "/hooks/sync/"
    token = make_token(BODY, ORIGIN + path)
    assert post(path, token=token, asynchronous=asynchronous).status_code == 200
    replay = post(path, token=token, asynchronous=asynchronous)
    assert replay.status_code == 403
    assert replay.json()["status"] == "replayed"
    assert len(receiving_urls.received) == 1
    # A new signature for the same message (a QStash retry) is not a replay.
    retry = post(path, asynchronous=asynchronous, **{"Upstash-Retried": "1"})
    assert retry.status_code == 200


class _BrokenStore:
    def remember_signature(self, jti: str, message_id: str, expires: float) -> bool:
        raise ConnectionError("database is down")


def test_when_the_replay_store_is_down_the_answer_is_503_and_the_view_never_runs():
    store = hooks.get_result_store()
    hooks.register_result_store(_BrokenStore())  # type: ignore[arg-type]
    try:
        response = post("/hooks/sync/")
    finally:
        if store is not None:
            hooks.register_result_store(store)
    assert response.status_code == 503
    assert response.json()["status"] == "store_unavailable"
    assert receiving_urls.received == []


def test_the_plain_function_returns_the_message_or_raises(no_result_store):
    factory = RequestFactory()
    url = ORIGIN + "/anywhere/"
    good = factory.post(
        "/anywhere/",
        BODY,
        content_type="application/json",
        headers={"Upstash-Signature": make_token(BODY, url), "Upstash-Message-Id": "msg_fn"},
    )
    message = verify_qstash_request(good)
    assert isinstance(message, QStashMessage)
    assert (message.message_id, message.attempt, message.url) == ("msg_fn", 1, url)
    assert message.claims["iss"] == "Upstash"

    forged = factory.post(
        "/anywhere/",
        BODY,
        content_type="application/json",
        headers={"Upstash-Signature": make_token(BODY, url, key="sig_forged")},
    )
    with pytest.raises(InvalidSignature) as refused:
        verify_qstash_request(forged)
    assert refused.value.status == 401


@pytest.mark.django_db(transaction=True)
def test_the_plain_function_refuses_a_replay_with_the_results_app():
    factory = RequestFactory()
    token = make_token(BODY, ORIGIN + "/anywhere/")

    def request() -> Any:
        return factory.post(
            "/anywhere/",
            BODY,
            content_type="application/json",
            headers={"Upstash-Signature": token},
        )

    first = verify_qstash_request(request())
    assert first.message_id.startswith("jti:")  # no Upstash-Message-Id: the token names it
    with pytest.raises(ReplayedSignature) as replayed:
        verify_qstash_request(request())
    assert replayed.value.status == 403
