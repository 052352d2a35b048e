"""Faults, end to end: QStash unreachable (or its answer lost) at publish, the dev server killed
mid-delivery, the database gone during a result write, a schedule sync while the API fails."""

from __future__ import annotations

import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from django_qstash.exceptions import PublishError
from example.models import TaskRun
from example.tasks import record
from tests.reliability.conftest import (
    HOLD,
    SETTINGS,
    SETTINGS_CORE_ONLY,
    SETTINGS_ROW,
    Webhook,
    assert_refused,
    message,
    new_id,
    start_site,
)
from tests.support.devserver import DevServerProcess, wait_until
from tests.support.liveserver import DjangoServer, pg_admin
from tests.support.lossyproxy import LossyProxy

pytestmark = pytest.mark.slow


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- publishing


def _order(key: str, *, on_commit: bool) -> None:
    """A view's work: a row, and its task published (now, or once the row commits)."""
    with transaction.atomic():
        TaskRun.objects.create(task="order", key=key)
        if on_commit:
            record.delay_on_commit(key)
        else:
            record.delay(key)


@pytest.mark.django_db(transaction=True)
def test_qstash_unreachable_at_publish_is_a_clear_error_and_nothing_is_half_done():
    down = f"http://127.0.0.1:{closed_port()}"
    with override_settings(QSTASH_URL=down, DJANGO_QSTASH_PUBLISH_RETRIES=1):
        # Plain .delay(): a clear exception, saying what to check.
        with pytest.raises(PublishError, match="Could not reach QStash") as info:
            record.delay("f1")
        assert "QSTASH_URL" in str(info.value)
        assert info.value.status is None
        # Inside a transaction: the exception rolls the transaction back, so no row is left
        # behind whose task was never enqueued.
        with pytest.raises(PublishError):
            _order("f2", on_commit=False)
        assert not TaskRun.objects.filter(key="f2").exists()
        # On-commit publishing: a rolled-back transaction publishes nothing (no error either);
        # a committed one raises the same clear error after its commit.
        with transaction.atomic():
            TaskRun.objects.create(task="order", key="f3")
            record.delay_on_commit("f3")
            transaction.set_rollback(True)
        assert not TaskRun.objects.filter(key="f3").exists()
        with pytest.raises(PublishError, match="Could not reach QStash"):
            _order("f4", on_commit=True)
        assert TaskRun.objects.filter(key="f4").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_publish_whose_answer_is_lost_is_enqueued_and_run_once(
    site: DjangoServer, publish_via: Any
):
    # QStash (the dev server) enqueued the message, the answer never came back, the SDK
    # retried: the retry is deduplicated, so the task runs once, not twice.
    publish_via(site)
    hook = Webhook(site)
    url_events = {"url": site.webhook_url, "state": "CREATED", "count": 10_000}
    created_before = len(site.devserver.events(**url_events))
    key = new_id("lost")
    with LossyProxy(site.devserver.url, drop=1) as proxy:
        with override_settings(QSTASH_URL=proxy.url, DJANGO_QSTASH_PUBLISH_RETRIES=2):
            result = record.delay(key)
        assert proxy.forwarded == 2
    assert len(site.devserver.events(**url_events)) == created_before + 1
    wait_until(lambda: hook.runs(key) >= 1, timeout=20, message="the run")
    wait_until(lambda: "DELIVERED" in site.devserver.message_states(result.id), timeout=20)
    assert hook.runs(key) == 1


# --------------------------------------------------------------------------- the dev server dies


@pytest.fixture
def own_devserver(devserver_factory: Any) -> DevServerProcess:
    return devserver_factory("--quiet")


def _kill_during_delivery(
    server: DjangoServer, devserver: DevServerProcess, tmp_path: Path
) -> tuple[Webhook, str, str]:
    hook = Webhook(server)
    key = new_id("kill")
    release = tmp_path / f"release-{key}"
    response = devserver.client().message.publish(
        url=server.webhook_url,
        body=message(HOLD, key, str(release)),
        content_type="application/json",
        retries=3,
    )
    message_id = response.message_id
    wait_until(lambda: hook.runs(key, "hold_started") == 1, timeout=20, message="the delivery")
    devserver.kill()  # SIGKILL while the delivery is in flight
    release.touch()  # the task finishes and answers into a closed connection
    wait_until(lambda: hook.runs(key, "hold_done") == 1, timeout=20, message="the task to end")
    devserver.start()  # same port, same database
    wait_until(
        lambda: "DELIVERED" in devserver.message_states(message_id),
        timeout=30,
        message="the redelivery",
    )
    return hook, key, message_id


def test_dev_server_killed_mid_delivery_redelivers_and_the_results_app_runs_it_once(
    own_devserver: DevServerProcess, migrated_template_db: Path, tmp_path: Path
):
    server = start_site(tmp_path / "site", own_devserver, migrated_template_db)
    try:
        hook, key, message_id = _kill_during_delivery(server, own_devserver, tmp_path)
        delivered = own_devserver.events(messageId=message_id, state="DELIVERED")
        assert json.loads(delivered[0]["responseBody"])["status"] == "duplicate"
        assert (hook.runs(key, "hold_started"), hook.runs(key, "hold_done")) == (1, 1)
        assert [status for status, _ in hook.results(message_id)] == ["SUCCESS"]
    finally:
        server.stop()


def test_dev_server_killed_mid_delivery_without_the_results_app_runs_it_again(
    own_devserver: DevServerProcess, migrated_template_db: Path, tmp_path: Path
):
    # What the README says holds without the results app: at least once, so twice here.
    server = start_site(
        tmp_path / "site", own_devserver, migrated_template_db, settings=SETTINGS_CORE_ONLY
    )
    try:
        hook, key, message_id = _kill_during_delivery(server, own_devserver, tmp_path)
        delivered = own_devserver.events(messageId=message_id, state="DELIVERED")
        assert json.loads(delivered[0]["responseBody"])["status"] == "success"
        assert (hook.runs(key, "hold_started"), hook.runs(key, "hold_done")) == (2, 2)
    finally:
        server.stop()


# --------------------------------------------------------------------------- the database dies


@pytest.fixture(params=["lock", "row"])
def pg_site(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    migrated_template_db: Path,
    qstash_devserver: DevServerProcess,
) -> Iterator[tuple[DjangoServer, str, str]]:
    """The sample project on a PostgreSQL database of its own, in either claim mode."""
    from tests.support.liveserver import pg_create, pg_drop

    template = request.getfixturevalue("migrated_template_pg")
    name = f"qstash_faults_{uuid.uuid4().hex[:12]}"
    url = pg_create(name, template)
    settings = SETTINGS_ROW if request.param == "row" else SETTINGS
    server = start_site(
        tmp_path / "pg-site",
        qstash_devserver,
        migrated_template_db,
        database_url=url,
        settings=settings,
    )
    try:
        yield server, name, request.param
    finally:
        server.stop()
        pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        pg_drop(name)


@pytest.mark.postgres
def test_database_gone_during_the_result_write_loses_no_outcome_and_runs_nothing_twice(
    pg_site: tuple[DjangoServer, str, str], tmp_path: Path
):
    server, name, mode = pg_site
    hook = Webhook(server)
    devserver = server.devserver
    key = new_id("dbdown")
    release = tmp_path / "release"
    response = devserver.client().message.publish(
        url=server.webhook_url,
        body=message(HOLD, key, str(release), finish_write=False),
        content_type="application/json",
        retries=3,
    )
    message_id = response.message_id
    wait_until(lambda: hook.runs(key, "hold_started") == 1, timeout=20, message="the delivery")
    # The database goes away while the task runs: no new connections, existing ones cut.
    pg_admin(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )
    try:
        release.touch()
        wait_until(
            lambda: "DELIVERED" in devserver.message_states(message_id),
            timeout=30,
            message="the answer",
        )
        # The task ran; its outcome could not be stored. It is answered 200 (QStash must not
        # run it again) and not lost: QStash keeps the answer, the log has it at ERROR.
        (delivered,) = devserver.events(messageId=message_id, state="DELIVERED")
        answer = json.loads(delivered["responseBody"])
        assert (answer["status"], answer["result"], answer["stored"]) == ("success", key, False)
        log = server.log()
        assert f"could not store the outcome of {HOLD}[{message_id}]" in log
        assert key in log.split("could not store the outcome", 1)[1]
        # While the database is down a redelivery cannot even be claimed: 503, nothing runs.
        body = message(HOLD, key, str(release), finish_write=False)
        assert_refused(hook.post(body, message_id=message_id, retried=1), 503, "store_unavailable")
    finally:
        pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    again = hook.post(body, message_id=message_id, retried=2)
    if mode == "row":
        # Back up: the message is still held by its STARTED claim (the lease), so a redelivery
        # is turned away (409) instead of running the task a second time.
        assert_refused(again, 409, "in_progress")
        assert hook.results(message_id) == [("STARTED", 1)]
    else:
        # Back up: the worker kept the outcome its locks could no longer guard (they went with
        # its database session) and writes it before its next claim, so the redelivery finds
        # the message done instead of running the task a second time.
        assert (again.status_code, again.json()["status"]) == (200, "duplicate"), again.text
        assert hook.results(message_id) == [("SUCCESS", 1)]
        assert "now that the database answers again" in server.log()
    assert hook.runs(key, "hold_started") == 1


# --------------------------------------------------------------------------- schedules


@pytest.mark.django_db
def test_a_schedule_sync_whose_answer_is_lost_keeps_the_row_and_sync_repairs_it_once(
    site: DjangoServer, publish_via: Any, django_capture_on_commit_callbacks: Any
):
    # QStash created the schedule but the answer was lost: the row is kept, marked unsynced,
    # and --sync upserts the same stable id: one schedule on QStash, not two.
    from django_qstash.schedules.models import TaskSchedule

    publish_via(site)
    sdk = site.devserver.client()
    before = {s.schedule_id for s in sdk.schedule.list()}
    key = new_id("sched")
    try:
        with LossyProxy(site.devserver.url, drop=1) as proxy:
            with override_settings(QSTASH_URL=proxy.url, DJANGO_QSTASH_PUBLISH_RETRIES=0):
                with django_capture_on_commit_callbacks(execute=True):
                    schedule = TaskSchedule.objects.create(
                        name=key, task_name="example.tasks.record", cron="0 3 * * *", args=[key]
                    )
        schedule.refresh_from_db()
        assert schedule.sync_state == "failed"
        assert schedule.sync_error
        created = [s for s in sdk.schedule.list() if s.schedule_id not in before]
        assert [s.schedule_id for s in created] == [schedule.schedule_id]

        # Then the API fails outright (HTTP 500) on an edit: the edit is kept, unsynced.
        with _failing_qstash() as failing:
            with override_settings(QSTASH_URL=failing, DJANGO_QSTASH_PUBLISH_RETRIES=0):
                with django_capture_on_commit_callbacks(execute=True):
                    schedule.cron = "0 4 * * *"
                    schedule.save()
        schedule.refresh_from_db()
        assert (schedule.cron, schedule.sync_state) == ("0 4 * * *", "failed")
        assert sdk.schedule.get(schedule.schedule_id).cron == "0 3 * * *"

        out = io.StringIO()
        call_command("task_schedules", "--sync", "--no-input", stdout=out)
        schedule.refresh_from_db()
        assert schedule.sync_state == "synced", out.getvalue()
        assert sdk.schedule.get(schedule.schedule_id).cron == "0 4 * * *"
        assert [s.schedule_id for s in sdk.schedule.list() if s.schedule_id not in before] == [
            schedule.schedule_id
        ]
    finally:
        for s in sdk.schedule.list():
            if s.schedule_id not in before:
                sdk.schedule.delete(s.schedule_id)


def _failing_qstash() -> Any:
    """A loopback 'QStash' that answers every request 500 (a context manager: its URL)."""
    from contextlib import contextmanager
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _fail(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            data = b'{"error": "internal error"}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _fail

        def log_message(self, *args: Any) -> None:
            pass

    @contextmanager
    def serve() -> Iterator[str]:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    return serve()
