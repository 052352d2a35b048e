"""``example/celery_app_style.py`` over the real path: chains and chords through the dev server.

* ``live``: the dev server delivers to pytest-django's live server, which shares this test's
  database, so ``.get()`` here reads the results the deliveries wrote.
* ``test_a_chord_completes_once_under_gunicorn``: the sample project under gunicorn with several
  workers; the header tasks are delivered in parallel and race to complete the count.
* ``test_duplicate_and_simultaneous_header_deliveries_publish_the_body_once``: every header
  message delivered twice at the same moment, signed, over HTTP to the live server.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings

from django_qstash import hooks
from django_qstash.results.models import ChordCounter, ChordPart, ChordState, TaskResult
from example import celery_app_style as tasks
from example.models import TaskRun
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer
from tests.support.signing import make_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live(live_server: Any, qstash_devserver: DevServerProcess) -> Iterator[str]:
    """``.delay()`` here publishes to the dev server, which delivers to the live server."""
    keys = qstash_devserver.keys()
    with override_settings(
        QSTASH_URL=qstash_devserver.url,
        QSTASH_TOKEN=qstash_devserver.token,
        QSTASH_CURRENT_SIGNING_KEY=keys["current"],
        QSTASH_NEXT_SIGNING_KEY=keys["next"],
        DJANGO_QSTASH_DOMAIN=live_server.url,
        DJANGO_QSTASH_FORCE_HTTPS=False,
        DJANGO_QSTASH_ALWAYS_EAGER=False,
    ):
        yield live_server.url


def _key() -> str:
    return uuid.uuid4().hex[:12]


def _runs(task: str, key: str) -> list[Any]:
    rows = TaskRun.objects.filter(task=f"celery_app.{task}", key=key).order_by("pk")
    return list(rows.values_list("value", flat=True))


def test_a_chain_returns_its_last_result_with_parents(live):
    result = tasks.arithmetic(1)
    assert result.get(timeout=30) == 16  # ((1 + 1) + 2) squared, the last step's value
    assert result.parent.get(timeout=5) == 4
    assert result.parent.parent.get(timeout=5) == 2
    assert result.parent.parent.parent is None
    assert result.parent.parent.task_name == tasks.add.name


def test_send_task_publishes_a_registered_task_by_name(live):
    key = _key()
    result = tasks.app.send_task("example.celery_app_style.total", ([4, 5], key))
    assert result.get(timeout=30) == 9
    assert _runs("total", key) == [[4, 5]]


def test_a_chord_of_ten_gives_its_body_the_results_in_header_order(live):
    key = _key()
    result = tasks.sum_of_squares(key, 10)
    assert result.get(timeout=60) == sum(n * n for n in range(10))
    assert _runs("total", key) == [[n * n for n in range(10)]]
    assert result.parent.get(timeout=5) == [n * n for n in range(10)]
    counter = ChordCounter.objects.get(chord_id=result.parent.id)
    assert (counter.state, counter.remaining, counter.size) == (ChordState.JOINED, 0, 10)


def test_group_piped_into_a_task_is_a_chord(live):
    key = _key()
    assert tasks.sum_of_squares_piped(key, 3).get(timeout=60) == 5
    assert _runs("total", key) == [[0, 1, 4]]


def test_a_header_task_failing_for_good_fails_the_chord(live):
    key = _key()
    result = tasks.failing_chord(key, 4, bad=2)
    failed = wait_until(lambda: _runs("chord_failed", key), timeout=60, message="the errback")
    (failed_id,) = failed
    assert failed_id == result.parent.results[2].id
    with pytest.raises(ValueError, match="2 is bad"):
        result.parent.results[2].get(timeout=5)
    with pytest.raises(ValueError, match="2 is bad"):
        result.get(timeout=5)  # the body never runs: its get() follows the failed header
    assert _runs("total", key) == []
    counter = ChordCounter.objects.get(chord_id=result.parent.id)
    assert counter.state == ChordState.FAILED


# ---------------------------------------------------------------------------------- gunicorn


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_chord_completes_once_under_gunicorn(django_server_factory, publish_via, database):
    server: DjangoServer = django_server_factory(workers=3, threads=4, database=database)
    publish_via(server)
    key = _key()
    # Started from a task, so the server that counts the header also holds the counter.
    tasks.start_sum_of_squares.delay(key, 10)
    (total,) = server.wait_for_runs(1, task="celery_app.total", key=key, timeout=90)
    assert total["value"] == [n * n for n in range(10)]
    assert len(server.task_runs(task="celery_app.square", key=key)) == 10
    chord_rows = server.query(
        "SELECT state, remaining, size FROM django_qstash_results_chordcounter"
    )
    assert chord_rows == [("JOINED", 0, 10)]
    parts = server.query("SELECT COUNT(*) FROM django_qstash_results_chordpart")
    assert parts == [(10,)]
    # One body message, delivered once, whatever the header deliveries raced. Its result row is
    # written when the task has returned, a moment after the run it records.
    (body_message,) = wait_until(
        lambda: server.query(
            "SELECT task_id FROM django_qstash_results_taskresult WHERE task_name = ?",
            (tasks.total.name,),
        ),
        timeout=30,
        message="the body's result row",
    )
    delivered = wait_until(
        lambda: [
            e
            for e in server.devserver.events(messageId=body_message[0])
            if e["state"] == "DELIVERED"
        ],
        timeout=30,
        message="the body's delivery",
    )
    assert len(delivered) == 1
    assert len(server.task_runs(task="celery_app.total", key=key)) == 1


# ---------------------------------------------------------------------------------- duplicates


def _post(url: str, body: bytes, message_id: str) -> httpx.Response:
    headers = {
        "Upstash-Signature": make_token(body, url),
        "Upstash-Message-Id": message_id,
        "Upstash-Retried": "0",
        "Content-Type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=60)


@pytest.mark.parametrize(
    "database", ["configured", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_duplicate_and_simultaneous_header_deliveries_publish_the_body_once(
    live_server, qstash, database
):
    from django.db import connection

    assert database in ("configured", connection.vendor)
    key = _key()
    qstash.answer = (200, [{"messageId": f"msg_header_{n}"} for n in range(10)], {})
    with override_settings(DJANGO_QSTASH_DOMAIN=live_server.url, DJANGO_QSTASH_FORCE_HTTPS=False):
        webhook = hooks.webhook_url()
        result = tasks.sum_of_squares(key, 10)
        (batch,) = qstash.requests
        qstash.requests.clear()
        qstash.answer = (200, {"messageId": "msg_body"}, {})
        headers = [item["body"].encode() for item in batch.json()]
        # Each header message delivered twice, all twenty at the same moment.
        start = threading.Barrier(20)
        answers: list[httpx.Response] = []

        def deliver(body: bytes, message_id: str) -> None:
            start.wait()
            answers.append(_post(webhook, body, message_id))

        threads = [
            threading.Thread(target=deliver, args=(body, f"msg_header_{n}"))
            for n, body in enumerate(headers)
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # A later redelivery of one header message (QStash missed the answer) adds nothing.
        assert _post(webhook, headers[3], "msg_header_3").json()["status"] == "duplicate"

    assert all(answer.status_code in (200, 409) for answer in answers), [
        answer.text for answer in answers
    ]
    assert len(_runs("square", key)) == 10  # each header task ran once
    published = [json.loads(request.body) for request in qstash.requests]
    assert [(body["task"], body["args"]) for body in published] == [
        (tasks.total.name, [[n * n for n in range(10)], key])
    ]
    counter = ChordCounter.objects.get(chord_id=result.parent.id)
    assert (counter.state, counter.remaining) == (ChordState.JOINED, 0)
    assert ChordPart.objects.filter(counter=counter).count() == 10
    assert TaskResult.objects.filter(task_name=tasks.square.name, status="SUCCESS").count() == 10
