"""What a first delivery costs the database, counted on the connection through the webhook: one
commit on PostgreSQL (lock mode, the default there), as on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from django_qstash import shared_task
from django_qstash.results.models import SeenSignature, TaskResult, TaskStatus
from tests.results.conftest import new_message_id, other_session_holds
from tests.support.commits import CommitCounter

pytestmark = [pytest.mark.django_db(transaction=True)]  # autocommit, as in production

ECHO = "tests.results.test_commits.echo"


@shared_task
def echo(value: Any) -> Any:
    """Writes nothing of its own: every commit counted is the results app's."""
    return value


def first_delivery(deliver: Any) -> tuple[CommitCounter, str]:
    message_id = new_message_id()
    with CommitCounter(connection) as counter:
        response = deliver(ECHO, 7, message_id=message_id)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "success",
        "task_id": message_id,
        "result": 7,
        "stored": True,
    }
    row = TaskResult.objects.get(task_id=message_id)
    assert (row.status, row.result, row.attempts) == (TaskStatus.SUCCESS, 7, 1)
    assert SeenSignature.objects.filter(task_id=message_id).count() == 1
    return counter, message_id


@pytest.mark.postgres
def test_a_first_delivery_is_one_commit_on_postgresql(deliver):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (make test-postgres)")
    counter, message_id = first_delivery(deliver)
    assert counter.commits == 1, counter.summary()
    # Two round trips: lock + look up; write + commit + unlock. The locks are free again.
    assert counter.statements == ["SELECT+SELECT", "WITH+COMMIT+SELECT"], counter.summary()
    other_session_holds(f"msg:{message_id}").release()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "settings",
    [
        {"DJANGO_QSTASH_RESULTS_CLAIM_MODE": "row"},
        {"DJANGO_QSTASH_RESULTS_TRACK_STARTED": True},
    ],
    ids=["row-mode", "track-started"],
)
def test_row_mode_and_tracking_started_cost_a_second_commit(deliver, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (make test-postgres)")
    with override_settings(**settings):
        counter, _ = first_delivery(deliver)
    assert counter.commits == 2, counter.summary()


def test_a_first_delivery_is_one_commit_on_sqlite(deliver):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite run")
    counter, _ = first_delivery(deliver)
    assert counter.commits == 1, counter.summary()


@pytest.mark.postgres
def test_without_pipelining_it_is_still_one_commit_in_four_round_trips(deliver, monkeypatch):
    # psycopg2, or psycopg 3 with server-side binding, sends one statement per round trip.
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL=postgres://... (make test-postgres)")
    connection.ensure_connection()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)
    counter, message_id = first_delivery(deliver)
    assert counter.commits == 1, counter.summary()
    assert counter.statements == ["SELECT", "SELECT", "WITH", "SELECT"], counter.summary()
    other_session_holds(f"msg:{message_id}").release()
