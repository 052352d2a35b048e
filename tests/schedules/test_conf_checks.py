"""The schedules app's settings: one lazy ``conf`` object (core's pattern) and system checks."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_qstash.schedules.conf import DEFAULT_ID_PREFIX, conf
from django_qstash.schedules.models import TaskSchedule


def schedule_check_ids() -> list[str]:
    return [
        m.id
        for m in run_checks(tags=["django_qstash_schedules"])
        if m.id and m.id.startswith("django_qstash_schedules.")
    ]


def test_defaults_and_overrides_are_read_lazily():
    with override_settings(DJANGO_QSTASH_SCHEDULES_ID_PREFIX="nightly-"):
        assert conf.ID_PREFIX == "nightly-"
    assert conf.ID_PREFIX == DEFAULT_ID_PREFIX
    with override_settings(DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=False):
        assert conf.AUTO_SYNC is False


@pytest.mark.django_db
def test_the_prefix_reaches_new_schedule_ids():
    with override_settings(
        DJANGO_QSTASH_SCHEDULES_ID_PREFIX="rep-", DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=False
    ):
        schedule = TaskSchedule(name="p", task_name="example.tasks.record", cron="* * * * *")
        schedule.save()
    assert schedule.schedule_id.startswith("rep-")


def test_valid_settings_pass_the_checks():
    assert schedule_check_ids() == []


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_auto_sync_must_be_a_bool(value):
    with override_settings(DJANGO_QSTASH_SCHEDULES_AUTO_SYNC=value):
        assert schedule_check_ids() == ["django_qstash_schedules.E001"]


@pytest.mark.parametrize("value", ["has space-", "a/b-", 5, "x" * 65])
def test_the_id_prefix_must_fit_a_schedule_id(value):
    with override_settings(DJANGO_QSTASH_SCHEDULES_ID_PREFIX=value):
        (message,) = [
            m
            for m in run_checks(tags=["django_qstash_schedules"])
            if m.id == "django_qstash_schedules.E002"
        ]
    assert "DJANGO_QSTASH_SCHEDULES_ID_PREFIX" in message.msg
    assert message.hint
