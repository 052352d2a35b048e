"""Cron parsing and validation: what QStash accepts, named errors, words and next runs."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from django_qstash.schedules import cron


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 * * *",
        "*/15 * * * *",
        "0 4 * * MON-FRI",
        "0,30 9-17 * * 1-5",
        "0 4 1,15 jan *",
        "5 0 * 8 *",
        "0 0 * * 7",
        "  0   0 * * *  ",
    ],
)
def test_valid(expression):
    cron.validate_cron(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "Enter a cron expression"),
        ("61 * * * *", "'61' is not a valid minute field (allowed: 0-59"),
        ("* 24 * * *", "'24' is not a valid hour field"),
        ("* * 0 * *", "'0' is not a valid day of month field"),
        ("* * * 13 *", "'13' is not a valid month field"),
        ("* * * * 8", "'8' is not a valid day of week field"),
        ("1- * * * *", "'1-' is not a valid minute field"),
        ("H * * * *", "'H' is not a valid minute field"),
        ("0 0 L * *", "'L' is not a valid day of month field"),
        ("0 0 * * *  *", "five fields"),
        ("0 0 *", "3 given"),
        ("@daily", "not @daily"),
        ("0 0 30 2 *", "never fires"),
        ("CRON_TZ=Europe/Berlin 0 4 * * *", "time zone field"),
    ],
)
def test_invalid_names_the_problem(expression, message):
    with pytest.raises(ValidationError) as info:
        cron.validate_cron(expression)
    assert message in " ".join(info.value.messages)


def test_timezone_validation():
    cron.validate_timezone("")
    cron.validate_timezone("UTC")
    cron.validate_timezone("America/New_York")
    with pytest.raises(ValidationError, match="not a known time zone"):
        cron.validate_timezone("Mars/Olympus")


def test_split_and_qstash_prefix():
    assert cron.split_timezone("CRON_TZ=America/New_York  0 4 * * *") == (
        "0 4 * * *",
        "America/New_York",
    )
    assert cron.split_timezone("TZ=Europe/Berlin 0 4 * * *") == ("0 4 * * *", "Europe/Berlin")
    assert cron.split_timezone("0 4 * * *") == ("0 4 * * *", "")
    assert cron.qstash_cron("0 4 * * *", "America/New_York") == "CRON_TZ=America/New_York 0 4 * * *"
    assert cron.qstash_cron("0 4 * * *", "") == "0 4 * * *"
    assert cron.qstash_cron("0 4 * * *", "UTC") == "0 4 * * *"


def test_description_uses_cron_descriptor_and_names_the_zone():
    assert cron.describe("0 4 * * 1-5") == "At 04:00, Monday through Friday (UTC)"
    assert cron.describe("*/15 * * * *", "Europe/Berlin") == "Every 15 minutes (Europe/Berlin)"


def test_next_runs_in_the_schedule_zone():
    after = datetime.datetime(2025, 3, 29, 12, 0, tzinfo=datetime.timezone.utc)
    runs = cron.next_runs("0 4 * * *", "Europe/Berlin", after=after)
    assert len(runs) == 5
    assert [run.strftime("%m-%d %H:%M %Z") for run in runs[:2]] == [
        "03-30 04:00 CEST",  # the DST switch is the zone's business, not UTC's
        "03-31 04:00 CEST",
    ]
    assert runs[0].astimezone(datetime.timezone.utc).hour == 2
    utc_runs = cron.next_runs("30 1 * * *", after=after, count=2)
    assert [run.isoformat() for run in utc_runs] == [
        "2025-03-30T01:30:00+00:00",
        "2025-03-31T01:30:00+00:00",
    ]


def test_inspect_reports_errors_instead_of_raising():
    info = cron.inspect_cron("61 * * * *")
    assert info.runs == []
    assert info.description == ""
    assert "minute" in info.error
    good = cron.inspect_cron("0 0 * * *", count=3)
    assert good.error == ""
    assert len(good.runs) == 3
