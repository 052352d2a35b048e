"""Fixtures of the schedules tests: a fake QStash (the loopback recorder) and schedule helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from tests.support.recorder import Recorder

#: The webhook URL the test settings build (sample project defaults, FORCE_HTTPS off).
WEBHOOK = "http://127.0.0.1:8000/qstash/webhook/"
TASK = "example.tasks.record"


@pytest.fixture
def fake_qstash(recorder: Recorder) -> Iterator[Recorder]:
    """QSTASH_URL -> the recorder, answering 200 {"scheduleId": ...} to everything."""
    recorder.answer = (200, {"scheduleId": "ignored"}, {})
    with override_settings(QSTASH_URL=recorder.url, DJANGO_QSTASH_PUBLISH_RETRIES=0):
        yield recorder


@pytest.fixture
def unreachable_qstash() -> Iterator[str]:
    """QSTASH_URL -> a closed loopback port: every call fails to connect."""
    url = "http://127.0.0.1:9"
    with override_settings(QSTASH_URL=url, DJANGO_QSTASH_PUBLISH_RETRIES=0):
        yield url


@pytest.fixture
def no_auto_sync() -> Iterator[None]:
    with override_settings(DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=False):
        yield


def make_schedule(**fields: Any) -> Any:
    """A saved TaskSchedule with sensible defaults (no sync: call inside no_auto_sync or a
    django_capture_on_commit_callbacks block to control it)."""
    from django_qstash.schedules.models import TaskSchedule

    values: dict[str, Any] = {
        "name": f"schedule {uuid.uuid4().hex[:8]}",
        "task_name": TASK,
        "cron": "0 0 * * *",
        "args": ["key"],
    }
    values.update(fields)
    return TaskSchedule.objects.create(**values)


def schedule_calls(recorder: Recorder) -> list[tuple[str, str]]:
    """(method, path) of every request the fake QStash received."""
    return [(r.method, r.path) for r in recorder.requests]


@pytest.fixture
def on_devserver(qstash_devserver: Any) -> Iterator[Any]:
    """This process talks to the session's dev server, with a webhook URL of its own (so
    ``--list`` and ``--sync`` see only this test's schedules); they are deleted afterwards."""
    from django_qstash import hooks

    domain = f"http://127.0.0.1:8000/t{uuid.uuid4().hex[:10]}"
    with override_settings(
        QSTASH_URL=qstash_devserver.url,
        QSTASH_TOKEN=qstash_devserver.token,
        DJANGO_QSTASH_DOMAIN=domain,
        DJANGO_QSTASH_FORCE_HTTPS=False,
        DJANGO_QSTASH_PUBLISH_RETRIES=0,
    ):
        webhook = hooks.webhook_url()
        try:
            yield qstash_devserver
        finally:
            sdk = qstash_devserver.client()
            for schedule in sdk.schedule.list():
                if schedule.destination.startswith(domain):
                    sdk.schedule.delete(schedule.schedule_id)
    assert webhook.startswith(domain)
