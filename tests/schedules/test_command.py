"""``task_schedules --list / --sync [--dry-run] [--no-input]`` against the real dev server."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_qstash import hooks
from django_qstash.schedules import sync
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from tests.schedules.conftest import make_schedule

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.usefixtures("no_auto_sync")]

YEARLY = "0 0 1 1 *"  # never fires during a test, even with the dev server's fast cron clock


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("task_schedules", *args, stdout=out, stderr=out)
    return out.getvalue()


def remote_create(server, destination: str, body: bytes | str, schedule_id: str, **options):
    return server.client().schedule.create(
        destination=destination,
        cron=options.pop("cron", YEARLY),
        body=body,
        content_type="application/json",
        schedule_id=schedule_id,
        **options,
    )


def remote(server, schedule_id: str):
    return server.client().schedule.get(schedule_id)


def test_list_shows_only_this_webhook_and_marks_local_rows(on_devserver):
    webhook = hooks.webhook_url()
    local = make_schedule(name="local one", cron=YEARLY)
    sync.sync_schedule(local)
    body = hooks.build_message("example.tasks.record", ["remote"], {})
    remote_create(on_devserver, webhook, body, "djq-remote-only")
    remote_create(on_devserver, "http://127.0.0.1:8000/elsewhere/", body, "djq-elsewhere-list")
    try:
        output = run("--list")
    finally:
        on_devserver.client().schedule.delete("djq-elsewhere-list")
    assert f"QStash schedules delivering to {webhook}:" in output
    assert f"{local.schedule_id}  {YEARLY}  example.tasks.record  [active]  local: local one" in (
        output
    )
    assert "djq-remote-only  0 0 1 1 *  example.tasks.record  [active]  remote only" in output
    assert "djq-elsewhere-list" not in output
    assert "other schedule(s) in this QStash account deliver elsewhere; not shown." in output


def test_list_mentions_local_rows_missing_on_qstash(on_devserver):
    make_schedule(name="never pushed", cron=YEARLY)
    output = run("--list")
    assert "  (none)" in output
    assert "1 local schedule(s) not on QStash: never pushed (run task_schedules --sync)." in output


def test_dry_run_previews_and_changes_nothing(on_devserver):
    row = make_schedule(name="to create", cron=YEARLY)
    body = hooks.build_message("example.tasks.record", ["adopt-me"], {})
    remote_create(on_devserver, hooks.webhook_url(), body, "djq-adoptable")
    output = run("--sync", "--dry-run")
    assert f"create on QStash     to create [{row.schedule_id}] ({YEARLY})" in output
    assert "add a local row      record (djq-adoptable) [djq-adoptable]" in output
    assert "Dry run: 2 change(s) would be made; nothing was changed." in output
    assert TaskSchedule.objects.count() == 1
    ids = {s.schedule_id for s in on_devserver.client().schedule.list()}
    assert row.schedule_id not in ids


def test_sync_reconciles_both_ways(on_devserver):
    webhook = hooks.webhook_url()
    server = on_devserver
    # 1. a local row never pushed (QStash was down, or auto-sync off)
    new = make_schedule(name="new", cron=YEARLY, timezone="Europe/Berlin")
    # 2. a local row that was pushed, then changed behind QStash's back in its console
    changed = make_schedule(name="changed", cron=YEARLY, retries=2)
    sync.sync_schedule(changed)
    remote_create(server, webhook, b'{"edited": true}', changed.schedule_id, cron="0 0 2 1 *")
    # 3. a local row paused here by a bulk update (no signal) but active on QStash
    paused = make_schedule(name="paused", cron=YEARLY)
    sync.sync_schedule(paused)
    TaskSchedule.objects.filter(pk=paused.pk).update(is_active=False)
    # 4. a row deleted here while QStash was unreachable
    gone = make_schedule(name="gone", cron=YEARLY)
    sync.sync_schedule(gone)
    gone.delete()  # auto-sync is off: the deletion waits for --sync
    # 5. remote-only schedules: a django-qstash task of this project, and something else
    body = hooks.build_message(
        "example.tasks.record", ["adopted"], {"value": 5}, {"max_retries": 1}
    )
    remote_create(
        server,
        webhook,
        body,
        "djq-adopt",
        cron="CRON_TZ=America/New_York 0 4 * * *",
        retries=1,
        timeout=45,
        queue="adopt-q",
    )
    server.client().schedule.pause("djq-adopt")
    remote_create(server, webhook, b'{"not": "ours"}', "foreign")
    remote_create(
        server, webhook, hooks.build_message("other.project.task", [], {}), "unknown-task"
    )
    before = {
        row.pk: (row.cron, row.timezone, row.args, row.kwargs, row.retries, row.description)
        for row in TaskSchedule.objects.all()
    }

    output = run("--sync", "--no-input")

    assert "Applied 5 of 5 change(s)." in output, output
    assert "skip                 (remote only) [foreign] (not a django-qstash task message)" in (
        output
    )
    assert "task 'other.project.task' is not registered in this project" in output
    # pushed local values, never overwritten locally
    for row in TaskSchedule.objects.filter(pk__in=before):
        assert (
            row.cron,
            row.timezone,
            row.args,
            row.kwargs,
            row.retries,
            row.description,
        ) == before[row.pk]
        assert row.sync_state == "synced", row.name
    assert remote(server, new.schedule_id).cron == f"CRON_TZ=Europe/Berlin {YEARLY}"
    fixed = remote(server, changed.schedule_id)
    assert fixed.cron == YEARLY
    assert json.loads(fixed.body) == json.loads(sync.build_spec(changed).body)
    assert remote(server, paused.schedule_id).paused is True
    assert gone.schedule_id not in {s.schedule_id for s in server.client().schedule.list()}
    assert not ScheduleDeletion.objects.exists()
    adopted = TaskSchedule.objects.get(schedule_id="djq-adopt")
    assert adopted.name == "record (djq-adopt)"
    assert (adopted.task_name, adopted.args, adopted.kwargs) == (
        "example.tasks.record",
        ["adopted"],
        {"value": 5},
    )
    assert (adopted.cron, adopted.timezone) == ("0 4 * * *", "America/New_York")
    assert (adopted.is_active, adopted.retries, adopted.timeout, adopted.queue) == (
        False,
        1,
        45,
        "adopt-q",
    )
    assert adopted.sync_state == "synced"
    assert not TaskSchedule.objects.filter(schedule_id__in=["foreign", "unknown-task"]).exists()

    # A second run finds nothing to change.
    again = run("--sync", "--no-input")
    assert "Applied 0 of 0 change(s)." in again


def test_sync_marks_rows_synced_when_qstash_already_matches(on_devserver):
    row = make_schedule(name="matching", cron=YEARLY)
    sync.sync_schedule(row)
    TaskSchedule.objects.filter(pk=row.pk).update(needs_sync=True, sync_error="old failure")
    output = run("--sync", "--no-input")
    assert "in sync              matching" in output
    assert "up to date; the row will be marked synced" in output
    row.refresh_from_db()
    assert row.sync_state == "synced"


def test_invalid_rows_are_reported_and_fail_the_command(on_devserver):
    good = make_schedule(name="good", cron=YEARLY)
    bad = make_schedule(name="bad", cron=YEARLY)
    TaskSchedule.objects.filter(pk=bad.pk).update(cron="99 * * * *")
    with pytest.raises(CommandError, match="1 schedule\\(s\\) are invalid"):
        run("--sync", "--no-input")
    good.refresh_from_db()
    assert good.sync_state == "synced"  # the valid ones are still applied
    assert bad.schedule_id not in {s.schedule_id for s in on_devserver.client().schedule.list()}


def test_sync_without_a_terminal_asks_for_no_input(on_devserver, monkeypatch):
    make_schedule(name="waiting", cron=YEARLY)
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    with pytest.raises(CommandError, match="pass --no-input to apply"):
        run("--sync")
    assert on_devserver.client().schedule.list() == [] or all(
        not s.destination.startswith(hooks.webhook_url())
        for s in on_devserver.client().schedule.list()
    )


@pytest.mark.parametrize(("answer", "applied"), [("y", True), ("n", False), ("", False)])
def test_sync_prompt(on_devserver, monkeypatch, answer, applied):
    row = make_schedule(name="asked", cron=YEARLY)

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Tty())
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or answer)
    if applied:
        run("--sync")
    else:
        with pytest.raises(CommandError, match="Sync cancelled; nothing was changed."):
            run("--sync")
    assert prompts == ["Apply these 1 change(s)? [y/N] "]
    row.refresh_from_db()
    assert (row.sync_state == "synced") is applied


def test_usage_errors():
    with pytest.raises(CommandError, match="Say what to do: --list .* or --sync"):
        run()
    with pytest.raises(CommandError, match="--dry-run only goes with --sync"):
        run("--list", "--dry-run")
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("--list", "--sync")


def test_unreachable_qstash_is_a_command_error(unreachable_qstash):
    with pytest.raises(CommandError, match="Could not reach QStash at http://127.0.0.1:9"):
        run("--list")
    with pytest.raises(CommandError, match="Could not reach QStash at http://127.0.0.1:9"):
        run("--sync", "--dry-run")


def test_refusal_is_a_command_error(fake_qstash):
    fake_qstash.answer = (401, {"error": "invalid token"}, {})
    with pytest.raises(CommandError, match=r"HTTP 401: invalid token\); check QSTASH_TOKEN"):
        run("--list")


def test_missing_domain_is_a_command_error(fake_qstash):
    fake_qstash.answer = (200, [], {})
    with (
        override_settings(DJANGO_QSTASH_DOMAIN=""),
        pytest.raises(CommandError, match="DJANGO_QSTASH_DOMAIN is not set"),
    ):
        run("--list")


def test_exit_code_and_no_traceback_from_the_command_line(unreachable_qstash, capsys):
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "task_schedules", "--list"]).execute()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("CommandError: Could not reach QStash at http://127.0.0.1:9")
    assert "Traceback" not in err
