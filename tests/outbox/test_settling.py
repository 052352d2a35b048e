"""What the outbox costs a transaction, and the settling of published rows it defers: one INSERT
per call in your transaction and no statement after the commit; the published rows deleted in
bulk by the publishing process shortly after (while it lives, or at its exit); a process killed
after the publish but before that delete costs one deduplicated republish, never a second run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.outbox.conftest import OutboxSite, OutboxSiteFactory
from tests.outbox.test_faults import (
    DATABASES,
    new_key,
    ok,
    record_runs,
    wait_for_all,
    wait_out_the_commit_lease,
)
from tests.support.devserver import wait_until
from tests.support.liveserver import SAMPLE_PROJECT

pytestmark = pytest.mark.slow

OUTBOX_TABLE = "django_qstash_outbox_outboxmessage"
TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


def statements(sql: list[str]) -> list[str]:
    """The statements that are not transaction control, as ``VERB table``."""
    out = []
    for text in sql:
        if TRANSACTION_CONTROL.match(text):
            continue
        verb = text.split(None, 1)[0].upper()
        table = re.search(r'(?:INTO|FROM|UPDATE)\s+"?(\w+)"?', text, re.I)
        out.append(f"{verb} {table.group(1) if table else '?'}")
    return out


@pytest.mark.parametrize("database", DATABASES)
def test_one_insert_per_call_in_the_transaction_and_nothing_after_the_commit(
    outbox_site_factory: OutboxSiteFactory, database: str
):
    site = outbox_site_factory(database=database)
    key = new_key()
    printed = ok(site.enqueue(key, 3, "--count-queries"))
    counted = json.loads(printed.strip().splitlines()[-1])
    assert statements(counted["in_transaction"]) == [
        "INSERT example_taskrun",  # the view's own row
        *[f"INSERT {OUTBOX_TABLE}"] * 3,  # one per .delay(): no SELECT, no UPDATE
    ]
    # After the commit: the publish, and no statement (the published rows are settled later,
    # together, by the process's settling thread).
    assert statements(counted["after"]) == []
    assert wait_for_all(site, key, 4) == [-1, 0, 1, 2]  # the warm-up call's run, then three
    assert site.outbox_rows() == []  # settled at the latest when the process exited


def _popen_enqueue(site: OutboxSite, key: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.outbox.enqueue", key, *args],
        env=site.env(),
        cwd=SAMPLE_PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_published_rows_are_deleted_shortly_by_the_living_process(
    outbox_site_factory: OutboxSiteFactory,
):
    site = outbox_site_factory()
    key = new_key()
    process = _popen_enqueue(site, key, "3", "--stay", "60")
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "committed"
        # No other transaction, no exit: the process's settling thread deletes them.
        wait_until(lambda: site.outbox_rows() == [], timeout=10, message="rows settled")
        assert process.poll() is None, "still running: not the exit's flush"
    finally:
        process.kill()
        process.communicate(timeout=30)
    assert wait_for_all(site, key, 3) == [0, 1, 2]
    assert len(site.created_messages()) == 3


@pytest.mark.parametrize("database", DATABASES)
def test_killed_after_the_publish_before_the_delete_runs_each_task_once(
    outbox_site_factory: OutboxSiteFactory, database: str
):
    """QStash has the messages, the rows are still there: the drain publishes them again after
    the commit lease, with the same deduplication ids, and QStash keeps one message each."""
    site = outbox_site_factory(database=database)
    key = new_key()
    result = site.enqueue(key, 3, "--kill-after-publish")
    assert result.returncode == -9, result.stderr
    assert len(site.created_messages()) == 3  # published before the kill
    assert site.pending() == 3  # and not deleted: that was to come
    assert wait_for_all(site, key, 3) == [0, 1, 2]
    # Still leased to the dead process: no drainer takes them yet.
    assert "0 published, 0 failed, 3 pending" in ok(site.manage("drain_outbox", "--once"))

    wait_out_the_commit_lease()
    assert "3 published, 0 failed, 0 pending" in ok(site.manage("drain_outbox", "--once"))
    assert site.outbox_rows() == []
    # Published twice, enqueued once: QStash (the dev server) deduplicated the second publish.
    assert len(site.created_messages()) == 3
    assert record_runs(site, key) == [0, 1, 2]
