"""The official JS SDK (``@upstash/qstash``) against the dev server, as a Node service would use it.

``tests/js/sdk_check.mjs`` calls the SDK (publish, delay, retries, queues, batch, schedules,
messages, DLQ, logs) and checks every delivery's signature with the SDK's own ``Receiver``; it
also publishes a django-qstash message to the sample project's webhook. Needs Node.js and
``npm ci --prefix tests/js`` (``make test`` runs it); skipped without them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from django_qstash import hooks
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

JS = Path(__file__).resolve().parent.parent / "js"
NODE = shutil.which("node")
# The official dev server's public test user 1, which the JS SDK's dev mode expects.
DEV_USER_1_CURRENT_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"


@pytest.fixture(scope="module")
def js_sdk_run(django_server: DjangoServer) -> tuple[dict[str, Any], str]:
    if NODE is None:
        pytest.skip("needs Node.js")
    if not (JS / "node_modules" / "@upstash" / "qstash").is_dir():
        pytest.skip("needs the JS SDK: npm ci --prefix tests/js (make test runs it)")
    from example.tasks import record

    devserver = django_server.devserver
    keys = devserver.keys()
    key = uuid.uuid4().hex[:12]
    config = {
        "qstashUrl": devserver.url,
        "token": devserver.token,
        "currentKey": keys["current"],
        "nextKey": keys["next"],
        "webhookUrl": django_server.webhook_url,
        "envelope": json.loads(hooks.build_message(record.name, [key, {"from": "js"}])),
        "devPort": devserver.port,
    }
    assert keys["current"] == DEV_USER_1_CURRENT_KEY, "the session's dev server runs as user 1"
    finished = subprocess.run(
        [NODE, str(JS / "sdk_check.mjs"), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1]), key


def _steps(run: dict[str, Any]) -> dict[str, Any]:
    steps: dict[str, Any] = run["steps"]
    failed = {name: step["error"] for name, step in steps.items() if not step["ok"]}
    assert not failed, failed
    return {name: step["value"] for name, step in steps.items()}


def test_every_sdk_call_succeeds(js_sdk_run):
    run, _ = js_sdk_run
    steps = _steps(run)
    assert steps["publishJSON"]["messageId"].startswith("msg_")
    assert [item["messageId"][:4] for item in steps["batchJSON"]] == ["msg_", "msg_"]
    assert steps["queue get"]["name"] == "js-sdk"
    assert steps["queue get"]["parallelism"] == 1
    assert steps["schedules.get"]["cron"] == "0 0 1 1 *"
    assert steps["schedules.get paused"]["isPaused"] is True
    assert steps["schedules.create"]["scheduleId"] in [
        s["scheduleId"] for s in steps["schedules.list"]
    ]
    assert steps["messages.get"]["messageId"] == steps["publish in an hour"]["messageId"]
    assert steps["publish to a closed port"]["messageId"] in steps["dlq.listMessages"]
    assert {"CREATED", "DELIVERED", "RETRY", "FAILED"} <= set(steps["logs"])


def test_every_delivery_verifies_with_the_js_receiver(js_sdk_run):
    run, _ = js_sdk_run
    deliveries = run["deliveries"]
    paths = sorted(d["path"] for d in deliveries)
    assert paths == sorted(
        [
            "/plain",
            "/delayed",
            "/queued",
            "/batch-1",
            "/batch-2",
            "/forwarded",
            "/flaky",
            "/flaky",
            "/dev-mode",
        ]
    )
    unverified = [(d["path"], d["error"]) for d in deliveries if d["verified"] is not True]
    assert not unverified
    (plain,) = [d for d in deliveries if d["path"] == "/plain"]
    assert json.loads(plain["body"]) == {"hello": "world"}
    assert plain["custom"] == "1"  # forwarded as the SDK sent it
    assert sorted(d["retried"] for d in deliveries if d["path"] == "/flaky") == ["0", "1"]


def test_answers_as_qstash_does_where_the_sdks_own_tests_look(js_sdk_run):
    run, _ = js_sdk_run
    steps = _steps(run)
    assert steps["urlGroups.delete unknown, twice"] is True
    message = steps["messages.get without a period"]
    assert (message["flowControlKey"], message["rate"], message["period"]) == ("js-no-period", 5, 1)
    (forwarded,) = [d for d in run["deliveries"] if d["path"] == "/forwarded"]
    names = [name.lower() for name in forwarded["rawHeaders"][::2]]
    for own in ("upstash-signature", "upstash-message-id", "content-length", "host"):
        assert names.count(own) == 1, (own, forwarded["rawHeaders"])
    assert "transfer-encoding" not in names
    message_id = forwarded["rawHeaders"][names.index("upstash-message-id") * 2 + 1]
    assert message_id == steps["publish forwarding the server's own headers"]["messageId"]
    assert forwarded["verified"] is True  # by the JS SDK's own Receiver
    assert json.loads(forwarded["body"]) == {"forwarded": True}


def test_a_node_service_can_enqueue_a_django_task(js_sdk_run, django_server: DjangoServer):
    run, key = js_sdk_run
    assert _steps(run)["publish a django-qstash task"]["messageId"].startswith("msg_")
    (task_run,) = django_server.wait_for_runs(1, task="record", key=key)
    assert task_run["value"] == {"from": "js"}


def test_the_sdks_dev_mode_finds_this_server(js_sdk_run):
    run, _ = js_sdk_run
    assert _steps(run)["dev mode publishJSON"]["messageId"].startswith("msg_")
    (delivery,) = [d for d in run["deliveries"] if d["path"] == "/dev-mode"]
    assert delivery["verified"] is True
    assert json.loads(delivery["body"]) == {"dev": True}
