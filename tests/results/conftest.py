"""Helpers for the results app's tests: signed deliveries through the test client or over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, override_settings

from django_qstash import hooks
from tests.support.signing import make_token

WEBHOOK_PATH = "/qstash/webhook/"


def body_for(task_name: str, *args: Any, **kwargs: Any) -> bytes:
    return hooks.build_message(task_name, args, kwargs)


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(
    body: bytes,
    *,
    message_id: str,
    retried: int = 0,
    token: str | None = None,
    schedule_id: str | None = None,
) -> dict[str, str]:
    headers = {
        "Upstash-Signature": token or make_token(body, hooks.webhook_url()),
        "Upstash-Message-Id": message_id,
        "Upstash-Retried": str(retried),
    }
    if schedule_id:
        headers["Upstash-Schedule-Id"] = schedule_id
    return headers


@dataclass
class Deliverer:
    """Posts signed deliveries to the webhook through Django's test client."""

    client: Client

    def __call__(
        self,
        task_name: str,
        *args: Any,
        message_id: str | None = None,
        retried: int = 0,
        token: str | None = None,
        schedule_id: str | None = None,
        body: bytes | None = None,
        **kwargs: Any,
    ) -> Any:
        raw = body if body is not None else body_for(task_name, *args, **kwargs)
        headers = signed_headers(
            raw,
            message_id=message_id or new_message_id(),
            retried=retried,
            token=token,
            schedule_id=schedule_id,
        )
        return self.client.post(WEBHOOK_PATH, raw, content_type="application/json", headers=headers)


@pytest.fixture
def deliver() -> Deliverer:
    return Deliverer(Client())


@pytest.fixture(params=["lock", "row"])
def claim_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test in both claim modes (lock: the SQLite default; row: everywhere else)."""
    with override_settings(DJANGO_QSTASH_RESULTS_CLAIM_MODE=request.param):
        yield request.param


@pytest.fixture(autouse=True)
def _release_the_stores_locks() -> Iterator[None]:
    """Locks a test's deliveries left with the app's store (after a failed write) go with it."""
    yield
    registered = hooks.get_result_store()
    if registered is not None and hasattr(registered, "release_locks"):
        registered.release_locks()


@pytest.fixture
def store() -> hooks.ResultStore:
    registered = hooks.get_result_store()
    assert registered is not None, "the results app registers its store in ready()"
    return registered


@pytest.fixture
def no_store() -> Iterator[None]:
    """Core alone: the results app's store unregistered for the test, restored after."""
    registered = hooks.get_result_store()
    hooks.unregister_result_store()
    try:
        yield
    finally:
        if registered is not None:
            hooks.register_result_store(registered)


@contextmanager
def results_sql_fails(when: Callable[[str], bool] = lambda sql: True) -> Iterator[list[str]]:
    """Statements on the results app's tables for which ``when(sql)`` is true fail as if the
    database were down; yields the list of the statements refused."""
    refused: list[str] = []

    def refuse(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "django_qstash_results" in sql and when(sql):
            refused.append(sql)
            raise OperationalError("could not connect to server: Connection refused")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        yield refused


class OtherSession:
    """Advisory locks held by a database session of its own, as another worker's would be (a
    session may take its own advisory locks again, so the test's connection cannot)."""

    def __init__(self, *keys: str) -> None:
        from django.db import connections

        from django_qstash.results.locks import advisory_key

        self.connection = connections.create_connection("default")
        self.ids = [advisory_key(key) for key in keys]
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(["pg_try_advisory_lock(%s)"] * len(self.ids)), self.ids
            )
            assert all(cursor.fetchone()), f"{keys} are held by another session"

    def release(self) -> None:
        # Unlocked first: a closed session's locks go only once its server process has ended.
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        self.connection.close()


def other_session_holds(*keys: str) -> OtherSession:
    return OtherSession(*keys)
