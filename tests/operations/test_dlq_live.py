"""Dead letters through the real path: the sample project under gunicorn, the dev server, the
official SDK's DLQ API, and ``manage.py qstash_dlq`` in this process."""

from __future__ import annotations

import json
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from example.tasks import always_fails, record
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TASK = "example.tasks.always_fails"


def dlq_command(*args: str) -> str:
    out = StringIO()
    call_command("qstash_dlq", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def listed(*args: str) -> list[dict[str, Any]]:
    return list(json.loads(dlq_command("--list", "--json", *args)))


def wait_for_letter(message_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        return next((e for e in listed() if e["message_id"] == message_id), None)

    return wait_until(probe, timeout=30, message=f"{message_id} in the DLQ")


def result_rows(server: DjangoServer, task_id: str) -> list[tuple[Any, ...]]:
    return server.query(
        "SELECT task_id, request_id, status, attempts FROM django_qstash_results_taskresult "
        "WHERE task_id = ? OR request_id = ? ORDER BY date_created",
        (task_id, task_id),
    )


@pytest.fixture
def site(django_server: DjangoServer, publish_via: Any) -> DjangoServer:
    publish_via(django_server)
    # Start each test with an empty DLQ for this site (the dev server is shared).
    dlq_command("--delete", "--all", "--url", django_server.webhook_url, "--no-input")
    return django_server


def test_a_task_that_fails_for_good_is_listed_requeued_and_deleted(site):
    key = uuid.uuid4().hex
    message_id = always_fails.delay(key).id
    letter = wait_for_letter(message_id)
    assert letter["task_name"] == TASK
    assert letter["args"] == [key]
    assert letter["response_status"] == 489
    assert "fails for good" in letter["error"]
    assert letter["url"] == site.webhook_url
    assert result_rows(site, message_id) == [(message_id, "", "FAILURE", 1)]

    # --get decodes the task and counts the failed attempts from QStash's logs.
    shown = json.loads(dlq_command("--get", letter["dlq_id"], "--json"))
    assert (shown["task_name"], shown["attempts"], shown["response_status"]) == (TASK, 1, 489)
    text = dlq_command("--get", letter["dlq_id"])
    assert TASK in text
    assert "Last status" in text
    assert "fails for good" in text

    # --requeue publishes it again: the task runs a second time, and its result (looked up by
    # the first message's id) gets another attempt; the DLQ entry is gone until it fails again.
    out = dlq_command("--requeue", letter["dlq_id"])
    assert f"Requeued {letter['dlq_id']} as message" in out
    site.wait_for_runs(2, task="always_fails", key=key)

    def requeued_result() -> list[tuple[Any, ...]] | None:
        rows = result_rows(site, message_id)
        return rows if len(rows) == 2 and rows[1][2] == "FAILURE" else None

    rows = wait_until(requeued_result, timeout=30, message="the requeued attempt's result")
    assert rows[0] == (message_id, "", "FAILURE", 1)
    assert rows[1][1:] == (message_id, "FAILURE", 1)
    again = wait_until(
        lambda: [e for e in listed() if e["task_id"] == message_id] or None,
        timeout=30,
        message="the requeued message back in the DLQ",
    )
    assert [e["message_id"] for e in again] == [rows[1][0]]
    assert all(e["dlq_id"] != letter["dlq_id"] for e in listed())

    # --delete empties it.
    assert "Deleted 1 dead letter(s)." in dlq_command("--delete", again[0]["dlq_id"])
    assert listed() == []


def test_filters_by_task_and_age_and_bulk_requeue(site):
    keys = [uuid.uuid4().hex for _ in range(3)]
    ids = [always_fails.delay(k).id for k in keys]
    for message_id in ids:
        wait_for_letter(message_id)
    assert {e["message_id"] for e in listed("--task", TASK)} == set(ids)
    assert {e["message_id"] for e in listed("--task", "example.tasks.*")} == set(ids)
    assert listed("--task", "example.tasks.record") == []
    assert listed("--older-than", "1h") == []
    assert len(listed("--newer-than", "1h")) == 3
    assert len(listed("--count", "2")) == 2

    err = StringIO()
    out = StringIO()
    call_command(
        "qstash_dlq",
        "--requeue",
        "--all",  # every match: of this task, at this site's webhook (the dev server is shared)
        "--url",
        site.webhook_url,
        "--task",
        TASK,
        "--no-input",
        "--json",
        stdout=out,
        stderr=err,
    )
    report = json.loads(out.getvalue())
    assert report["failed"] == {}
    assert len(report["requeued"]) == 3
    assert "3/3" in err.getvalue()  # the progress bar
    for key in keys:
        site.wait_for_runs(2, task="always_fails", key=key)

    wait_until(lambda: len(listed()) == 3 or None, timeout=30, message="3 letters again")
    out = dlq_command("--delete", "--all", "--url", site.webhook_url, "--task", TASK, "--no-input")
    assert "Deleted 3 dead letter(s)." in out
    assert listed() == []


def test_the_site_scope_and_the_whole_account(site):
    # A message to another destination is not this site's: --list leaves it out, --all shows it.
    client = site.devserver.client()
    other = client.message.publish(
        url=f"{site.url}/no-such-endpoint/", body="{}", retries=0
    ).message_id
    wait_until(
        lambda: any(e["message_id"] == other for e in listed("--all")) or None,
        timeout=30,
        message="the foreign message in the DLQ",
    )
    assert all(e["message_id"] != other for e in listed())
    foreign = next(e for e in listed("--all") if e["message_id"] == other)
    assert foreign["task_name"] is None
    dlq_command("--delete", foreign["dlq_id"])


def test_bad_input_is_a_clear_error_and_changes_nothing(site):
    with pytest.raises(CommandError, match="one of --list"):
        dlq_command()
    with pytest.raises(CommandError, match="one of --list"):
        dlq_command("--list", "--get", "x")
    with pytest.raises(CommandError, match="--all"):
        dlq_command("--delete")
    with pytest.raises(CommandError, match="QStash answered with an error"):
        dlq_command("--get", "0000-no-such-id")
    with pytest.raises(CommandError, match=r"only 0 of the 2 .*0000-no-such-id, 0001-no-such-id"):
        dlq_command("--delete", "0000-no-such-id", "0001-no-such-id")
    with pytest.raises(CommandError):
        dlq_command("--list", "--older-than", "soon")
    record  # noqa: B018 - imported so that the example tasks are registered
