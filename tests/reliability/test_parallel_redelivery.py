"""The same message delivered N times at once runs its task once (results app, 4 gunicorn
worker processes; SQLite in lock claim mode, PostgreSQL in lock mode, its default, and in row
mode).

Each real QStash attempt carries a fresh token, so a redelivery storm is N valid tokens for one
``Upstash-Message-Id``; a replay storm is one token sent N times (under one or many ids). Either
way exactly one delivery runs the task; the others are answered ``409 in_progress`` (QStash
retries, and then gets ``200 duplicate``), ``200 duplicate`` or ``403 replayed``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import HOLD, RECORD, Webhook, message, new_id
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = pytest.mark.slow

N = 16


@pytest.fixture(scope="module")
def hook(multi_site: DjangoServer) -> Webhook:
    return Webhook(multi_site)


def in_parallel(
    n: int, send: Callable[[httpx.Client, int], httpx.Response]
) -> list[tuple[int, str]]:
    """``send(client, i)`` for i in range(n), all released at once; the (status, reason)s."""
    barrier = threading.Barrier(n)
    answers: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with httpx.Client(trust_env=False, timeout=60) as client:
            client.get(hook_url_root[0] + "/admin/login/")  # connect before the barrier
            barrier.wait()
            try:
                response = send(client, i)
                answer = (response.status_code, response.json()["status"])
            except BaseException as exc:  # reported below
                with lock:
                    errors.append(exc)
                return
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(answers) == n
    return answers


hook_url_root: list[str] = [""]


def post(
    client: httpx.Client, hook: Webhook, body: bytes, token: str, message_id: str
) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        "Upstash-Signature": token,
        "Upstash-Message-Id": message_id,
        "Upstash-Retried": "0",
    }
    return client.post(hook.url, content=body, headers=headers)


@pytest.fixture(autouse=True)
def _root(hook: Webhook) -> None:
    hook_url_root[0] = hook.server.url


def test_n_fresh_tokens_for_one_message_run_it_once(hook: Webhook):
    key = new_id("par")
    body = message(RECORD, key)
    message_id = new_id()
    tokens = [hook.token(body) for _ in range(N)]
    answers = in_parallel(N, lambda c, i: post(c, hook, body, tokens[i], message_id))
    counts = Counter(reason for _, reason in answers)
    assert counts["success"] == 1, answers
    assert set(answers) - {(200, "success")} <= {(409, "in_progress"), (200, "duplicate")}, answers
    assert hook.runs(key) == 1
    assert [s for s, _ in hook.results(message_id)] == ["SUCCESS"]
    # QStash retries the 409s: they are now duplicates, and still nothing runs again.
    retried = in_parallel(N, lambda c, i: post(c, hook, body, hook.token(body), message_id))
    assert set(retried) == {(200, "duplicate")}, retried
    assert hook.runs(key) == 1


def test_one_token_sent_n_times_runs_once(hook: Webhook):
    key = new_id("par")
    body = message(RECORD, key)
    message_id = new_id()
    token = hook.token(body)
    answers = in_parallel(N, lambda c, i: post(c, hook, body, token, message_id))
    assert sorted(answers) == [(200, "success")] + [(403, "replayed")] * (N - 1), answers
    assert hook.runs(key) == 1


def test_one_token_under_n_message_ids_runs_once(hook: Webhook):
    key = new_id("par")
    body = message(RECORD, key)
    token = hook.token(body)
    ids = [new_id() for _ in range(N)]
    answers = in_parallel(N, lambda c, i: post(c, hook, body, token, ids[i]))
    assert sorted(answers) == [(200, "success")] + [(403, "replayed")] * (N - 1), answers
    assert hook.runs(key) == 1
    assert sum(len(hook.results(message_id)) for message_id in ids) == 1


def test_redeliveries_while_the_task_runs_are_turned_away(hook: Webhook, tmp_path: Path):
    # The first delivery is still running (held) when N redeliveries arrive: every one of them
    # is 409 (retry later); once it finished they are duplicates. The task ran once.
    key = new_id("par")
    release = tmp_path / "release"
    body = message(HOLD, key, str(release))
    message_id = new_id()
    first: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: first.append(hook.post(body, message_id=message_id)))
    sender.start()
    try:
        wait_until(lambda: hook.runs(key, "hold_started") == 1, timeout=20, message="hold to start")
        answers = in_parallel(N, lambda c, i: post(c, hook, body, hook.token(body), message_id))
        assert set(answers) == {(409, "in_progress")}, answers
    finally:
        release.touch()
        sender.join(60)
    assert first[0].status_code == 200, first[0].text
    answers = in_parallel(N, lambda c, i: post(c, hook, body, hook.token(body), message_id))
    assert set(answers) == {(200, "duplicate")}, answers
    assert (hook.runs(key, "hold_started"), hook.runs(key, "hold_done")) == (1, 1)


def test_many_messages_each_redelivered_in_parallel_each_run_once(hook: Webhook):
    keys = [new_id("par") for _ in range(4)]
    bodies = [message(RECORD, key) for key in keys]
    ids = [new_id() for _ in keys]
    answers = in_parallel(
        N, lambda c, i: post(c, hook, bodies[i % 4], hook.token(bodies[i % 4]), ids[i % 4])
    )
    assert Counter(reason for _, reason in answers)["success"] == 4, answers
    assert [hook.runs(key) for key in keys] == [1, 1, 1, 1]
