"""The admin: task dropdown, cron validation and preview, sync state, actions, no QStash on load."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from django_qstash.schedules import sync
from django_qstash.schedules.models import ScheduleDeletion, TaskSchedule
from tests.schedules.conftest import WEBHOOK, make_schedule, schedule_calls

# Real commits, so the on-commit sync runs inside the request, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/django_qstash_schedules/taskschedule/add/"
CHANGELIST = "/admin/django_qstash_schedules/taskschedule/"


def form_data(**overrides):
    data = {
        "name": "Nightly report",
        "task_name": "example.tasks.record",
        "is_active": "on",
        "description": "",
        "cron": "0 4 * * 1-5",
        "timezone": "Europe/Berlin",
        "args": '["report"]',
        "kwargs": '{"value": 1}',
        "retries": "",
        "timeout": "",
        "queue": "",
        "_save": "Save",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def admin(admin_client, fake_qstash):
    """A logged-in superuser; syncs go to the fake QStash."""
    return admin_client


def test_add_page_offers_registered_tasks_and_calls_nothing(admin, fake_qstash):
    from django_qstash import hooks

    response = admin.get(ADD)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<select name="task_name"' in html
    for name in hooks.registered_tasks():
        assert f'<option value="{name}">{name}</option>' in html
    assert '<datalist id="djq-timezones">' in html
    assert '<option value="Europe/Berlin">' in html
    assert fake_qstash.requests == []


def test_bad_cron_is_refused_with_the_field_named(admin, fake_qstash):
    response = admin.post(ADD, form_data(cron="61 * * * *"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["cron"] == ["'61' is not a valid minute field (allowed: 0-59, with * , - /)."]
    assert "not a valid minute field" in response.content.decode()
    assert not TaskSchedule.objects.exists()
    assert fake_qstash.requests == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "is not a known time zone"),
        ("task_name", "nope.task", "Select a valid choice"),
        ("args", '{"not": "a list"}', "must be a JSON array"),
        ("args", "[]", "missing a required argument: 'key'"),
        ("kwargs", "not json", "Enter a valid JSON"),
        ("cron", "@daily", "not @daily"),
    ],
)
def test_other_validation_errors(admin, field, value, message):
    response = admin.post(ADD, form_data(**{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(m for messages in errors.values() for m in messages)
    assert not TaskSchedule.objects.exists()


def test_saving_creates_the_row_and_syncs_after_commit(admin, fake_qstash):
    response = admin.post(ADD, form_data(), follow=True)
    assert response.status_code == 200
    row = TaskSchedule.objects.get()
    assert (row.name, row.task_name, row.args, row.kwargs) == (
        "Nightly report",
        "example.tasks.record",
        ["report"],
        {"value": 1},
    )
    assert (row.cron, row.timezone, row.is_active) == ("0 4 * * 1-5", "Europe/Berlin", True)
    assert schedule_calls(fake_qstash) == [("POST", f"/v2/schedules/{WEBHOOK}")]
    assert fake_qstash.requests[0].headers["Upstash-Cron"] == "CRON_TZ=Europe/Berlin 0 4 * * 1-5"
    assert row.sync_state == "synced"
    texts = messages_of(response)
    assert any("was added successfully" in t for t in texts)
    assert any(f"QStash schedule <code>{row.schedule_id}</code> is up to date" in t for t in texts)


def test_unticking_active_pauses_on_qstash(admin, fake_qstash):
    admin.post(ADD, form_data())
    row = TaskSchedule.objects.get()
    url = reverse("admin:django_qstash_schedules_taskschedule_change", args=[row.pk])
    data = form_data()
    del data["is_active"]
    response = admin.post(url, data, follow=True)
    assert response.status_code == 200
    assert schedule_calls(fake_qstash)[-1] == (
        "PATCH",
        f"/v2/schedules/{row.schedule_id}/pause",
    )
    row.refresh_from_db()
    assert row.is_active is False


def test_qstash_down_keeps_the_row_and_says_so(
    admin_client, unreachable_qstash, django_capture_on_commit_callbacks
):
    response = admin_client.post(ADD, form_data(), follow=True)
    assert response.status_code == 200
    row = TaskSchedule.objects.get()
    assert row.sync_state == "failed"
    texts = messages_of(response)
    assert any("was added successfully" in t for t in texts)
    (warning,) = [t for t in texts if "not synced to QStash" in t]
    assert "Could not reach QStash at http://127.0.0.1:9" in warning
    assert "task_schedules --sync" in warning
    changelist = admin_client.get(CHANGELIST).content.decode()
    assert "Sync failed" in changelist
    assert "Could not reach QStash" in changelist


def test_changelist_and_change_page_make_no_qstash_call(admin, fake_qstash):
    with_error = make_schedule(name="broken", cron="*/15 * * * *")
    TaskSchedule.objects.filter(pk=with_error.pk).update(sync_error="QStash refused (HTTP 500)")
    row = make_schedule(name="daily", cron="0 4 * * *", timezone="America/New_York")
    sync.sync_schedule(row)
    fake_qstash.requests.clear()

    listing = admin.get(CHANGELIST)
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "CRON_TZ=America/New_York 0 4 * * *" in html
    assert "At 04:00 (America/New_York)" in html
    assert "Synced" in html
    assert "Sync failed" in html
    assert "QStash refused (HTTP 500)" in html

    change = admin.get(reverse("admin:django_qstash_schedules_taskschedule_change", args=[row.pk]))
    assert change.status_code == 200
    page = change.content.decode()
    assert "At 04:00 (America/New_York)" in page
    assert page.count("<li>") >= 5
    assert 'class="djq-next-runs"' in page
    assert row.schedule_id in page
    assert admin.get(ADD).status_code == 200
    assert admin.get(CHANGELIST + "?q=daily").status_code == 200
    assert fake_qstash.requests == []


def _action(client, action: str, rows):
    return client.post(
        CHANGELIST,
        {"action": action, ACTION_CHECKBOX_NAME: [str(r.pk) for r in rows]},
        follow=True,
    )


def test_pause_and_resume_actions(admin, fake_qstash):
    rows = [make_schedule(name="a"), make_schedule(name="b")]
    sync.sync_queryset(rows)
    fake_qstash.requests.clear()
    response = _action(admin, "pause_schedules", rows)
    assert "Paused 2 schedules." in messages_of(response)
    assert sorted(schedule_calls(fake_qstash)) == sorted(
        ("PATCH", f"/v2/schedules/{r.schedule_id}/pause") for r in rows
    )
    assert not TaskSchedule.objects.filter(is_active=True).exists()
    fake_qstash.requests.clear()
    response = _action(admin, "resume_schedules", rows[:1])
    assert "Resumed 1 schedule." in messages_of(response)
    assert schedule_calls(fake_qstash) == [("PATCH", f"/v2/schedules/{rows[0].schedule_id}/resume")]


def test_pause_action_failure_is_shown(admin_client, unreachable_qstash):
    row = make_schedule(name="offline")
    response = _action(admin_client, "pause_schedules", [row])
    (text,) = messages_of(response)
    assert text.startswith("offline: not synced to QStash. Could not reach QStash")
    row.refresh_from_db()
    assert row.is_active is False  # the change is kept, marked unsynced
    assert row.sync_state == "failed"


def test_run_now_publishes_once(admin, fake_qstash):
    row = make_schedule(name="now", args=["now"])
    sync.sync_schedule(row)
    fake_qstash.requests.clear()
    fake_qstash.answer = (200, {"messageId": "msg_run_now"}, {})
    response = _action(admin, "run_now", [row])
    (text,) = messages_of(response)
    assert "now: published one run of example.tasks.record" in text
    assert "msg_run_now" in text
    (request,) = fake_qstash.requests
    assert request.path == f"/v2/publish/{WEBHOOK}"


def test_run_now_failure(admin_client, unreachable_qstash):
    row = make_schedule(name="offline")
    response = _action(admin_client, "run_now", [row])
    (text,) = messages_of(response)
    assert text.startswith("offline: not run. Could not reach QStash")


def test_sync_now_forces_an_upsert(admin, fake_qstash):
    row = make_schedule(name="force")
    sync.sync_schedule(row)
    fake_qstash.requests.clear()
    response = _action(admin, "sync_now", [row])
    assert "Synced 1 schedule to QStash." in messages_of(response)
    assert schedule_calls(fake_qstash) == [("POST", f"/v2/schedules/{WEBHOOK}")]


def test_deleting_through_the_admin_and_a_pending_deletion(admin, fake_qstash):
    row = make_schedule(name="doomed")
    fake_qstash.answer = (503, {"error": "maintenance"}, {})
    url = reverse("admin:django_qstash_schedules_taskschedule_delete", args=[row.pk])
    response = admin.post(url, {"post": "yes"}, follow=True)
    assert response.status_code == 200
    assert not TaskSchedule.objects.exists()
    assert schedule_calls(fake_qstash)[-1] == ("DELETE", f"/v2/schedules/{row.schedule_id}")
    texts = messages_of(response)
    assert any("Deleted here but not yet on QStash: doomed." in t for t in texts)

    deletions = "/admin/django_qstash_schedules/scheduledeletion/"
    page = admin.get(deletions)
    assert page.status_code == 200
    assert "maintenance" in page.content.decode()
    fake_qstash.answer = (200, {}, {})
    deletion = ScheduleDeletion.objects.get()
    response = _action_on(admin, deletions, "retry_deletion", [deletion])
    assert "Deleted 1 schedule on QStash." in messages_of(response)
    assert not ScheduleDeletion.objects.exists()


def _action_on(client, url, action, rows):
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [str(r.pk) for r in rows]}, follow=True
    )


def test_actions_need_the_change_permission(client, django_user_model, fake_qstash):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_taskschedule"))
    client.force_login(viewer)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    for action in ("pause_schedules", "resume_schedules", "run_now", "sync_now"):
        assert f'value="{action}"' not in html
    row = make_schedule(name="protected")
    fake_qstash.requests.clear()
    _action(client, "pause_schedules", [row])
    row.refresh_from_db()
    assert row.is_active is True
    assert fake_qstash.requests == []
