"""The admin's dead letters page, against the dev server and the sample project under gunicorn."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from example.tasks import always_fails
from tests.operations.test_dlq_live import TASK, dlq_command, listed, wait_for_letter
from tests.support.devserver import wait_until
from tests.support.liveserver import DjangoServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(django_server: DjangoServer, publish_via: Any) -> DjangoServer:
    publish_via(django_server)
    dlq_command("--delete", "--all", "--url", django_server.webhook_url, "--no-input")
    return django_server


def logged_in(*, superuser: bool) -> Client:
    user = User.objects.create_user(
        uuid.uuid4().hex[:12], password="x", is_staff=True, is_superuser=superuser
    )
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_users_are_sent_to_the_login_page():
    url = reverse("admin:django_qstash_dead_letters")
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_page_is_on_the_admin_index_for_staff():
    response = logged_in(superuser=False).get(reverse("admin:index"))
    assert response.status_code == 200
    assert reverse("admin:django_qstash_dead_letters").encode() in response.content
    assert b"Dead letters" in response.content


def test_the_page_lists_and_requeues_a_dead_letter(site):
    key = uuid.uuid4().hex
    message_id = always_fails.delay(key).id
    letter = wait_for_letter(message_id)
    url = reverse("admin:django_qstash_dead_letters")
    admin = logged_in(superuser=True)

    page = admin.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert TASK in html
    assert letter["dlq_id"] in html
    assert "fails for good" in html
    assert admin.get(url, {"task": "example.tasks.record"}).content.decode().count("dlq-row") == 0

    # A staff user who is not a superuser sees it but cannot act on it.
    viewer = logged_in(superuser=False)
    assert viewer.get(url).status_code == 200
    denied = viewer.post(url, {"action": "requeue", "dlq_id": [letter["dlq_id"]]})
    assert denied.status_code == 403

    done = admin.post(url, {"action": "requeue", "dlq_id": [letter["dlq_id"]]}, follow=True)
    assert "Requeued 1 dead letter(s)" in done.content.decode()
    site.wait_for_runs(2, task="always_fails", key=key)
    again = wait_until(
        lambda: [e for e in listed() if e["task_id"] == message_id] or None,
        timeout=30,
        message="the requeued message back in the DLQ",
    )
    gone = admin.post(url, {"action": "delete", "dlq_id": [again[0]["dlq_id"]]}, follow=True)
    assert "Deleted 1 dead letter(s)." in gone.content.decode()
    assert listed() == []


def test_no_selection_or_no_action_is_a_message_not_an_error(site):
    admin = logged_in(superuser=True)
    url = reverse("admin:django_qstash_dead_letters")
    none = admin.post(url, {"action": "delete"}, follow=True)
    assert "Select at least one dead letter." in none.content.decode()
    bad = admin.post(url, {"action": "explode", "dlq_id": ["1-0"]}, follow=True)
    assert "Choose an action" in bad.content.decode()


def test_qstash_unreachable_is_said_on_the_page():
    # The test settings point QSTASH_URL at a closed loopback port.
    page = logged_in(superuser=True).get(reverse("admin:django_qstash_dead_letters"))
    assert page.status_code == 200
    assert "QStash answered with an error" in page.content.decode()
