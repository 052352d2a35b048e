"""The Celery-style module end to end: ``.delay()`` here -> the dev server -> the sample project.

The sample project runs under gunicorn (``tests/support/liveserver.py``) and imports
``example.celery_style``; the dev server (started with ``--fast-retries``, which shortens
QStash's retry waits but not ``countdown`` delays) delivers, retries and calls back. Runs are
read back from the server's database (``TaskRun`` rows).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from example import celery_style
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def live(django_server: DjangoServer, publish_via: Any) -> DjangoServer:
    publish_via(django_server)
    return django_server


def _key() -> str:
    return uuid.uuid4().hex[:12]


def _values(live: DjangoServer, task: str, key: str, count: int) -> list[Any]:
    return [run["value"] for run in live.wait_for_runs(count, task=f"celery_style.{task}", key=key)]


def _events(live: DjangoServer, message_id: str, state: str) -> list[dict[str, Any]]:
    return wait_until(
        lambda: [e for e in live.devserver.events(messageId=message_id) if e["state"] == state],
        timeout=15,
        message=f"a {state} event for {message_id}",
    )


def test_manual_retry_republishes_with_the_same_task_id(live: DjangoServer):
    key = _key()
    result = celery_style.fetch_page.delay(key, 1)
    first, second = _values(live, "fetch_page", key, 2)
    # Celery's request.id stays the first message's id; retries counts the retry() calls.
    assert first == {"id": result.id, "retries": 0}
    assert second == {"id": result.id, "retries": 1}
    (delivered,) = _events(live, result.id, "DELIVERED")
    assert json.loads(delivered["responseBody"])["status"] == "retry"  # QStash must not retry


def test_autoretry_uses_qstash_retries_of_the_same_message(live: DjangoServer):
    key = _key()
    result = celery_style.sync_partner.delay(key, 2)
    values = _values(live, "sync_partner", key, 3)
    assert values == [{"retries": 0}, {"retries": 1}, {"retries": 2}]
    _events(live, result.id, "DELIVERED")
    states = live.devserver.message_states(result.id)
    assert states.count("RETRY") == 2


def test_an_exception_autoretry_for_does_not_list_fails_at_once(live: DjangoServer):
    key = _key()
    result = celery_style.import_file.delay(key)
    entry = wait_until(
        lambda: (live.devserver.dlq(messageId=result.id) or [None])[0],
        timeout=15,
        message="the failed task in the DLQ",
    )
    assert entry["responseStatus"] == 489
    assert json.loads(entry["responseBody"])["error"] == f"ValueError: {key} is not a CSV file"
    # One attempt although retry_kwargs allows 2 retries: Celery retries only listed errors.
    assert len(live.task_runs(task="celery_style.import_file", key=key)) == 1


def test_chain_passes_each_result_on_through_callbacks(live: DjangoServer):
    key = _key()
    celery_style.arithmetic_chain(key)
    assert _values(live, "store", key, 1) == [32]


def test_group_runs_every_member(live: DjangoServer):
    key = _key()
    result = celery_style.fan_out(key, 3)
    assert len(result.results) == 3
    assert sorted(_values(live, "store", key, 3)) == [0, 1, 2]


def test_link_error_runs_after_the_final_failure(live: DjangoServer):
    result = celery_style.import_file.apply_async(
        (_key(),), link_error=celery_style.report_failure.s()
    )
    live.wait_for_runs(1, task="celery_style.report_failure", key=result.id)


def test_headers_reach_self_request(live: DjangoServer):
    key = _key()
    celery_style.audit.apply_async((key,), headers={"tenant": "acme"})
    assert _values(live, "audit", key, 1) == [{"tenant": "acme"}]


def test_an_expired_message_is_acknowledged_and_not_run(live: DjangoServer):
    key = _key()
    result = celery_style.send_email.apply_async((key, "late@example.com"), countdown=2, expires=1)
    (delivered,) = _events(live, result.id, "DELIVERED")
    assert json.loads(delivered["responseBody"])["status"] == "expired"
    assert live.task_runs(task="celery_style.send_email", key=key) == []


def test_delay_on_commit_publishes_once_committed(
    live: DjangoServer, django_capture_on_commit_callbacks: Any
):
    key = _key()
    with django_capture_on_commit_callbacks(execute=True):
        celery_style.place_order(key, 3)
    assert _values(live, "notify", key, 1) == [{"order": 3}]
