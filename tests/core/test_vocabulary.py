"""One vocabulary per concern: task states, SDK errors, durations."""

from __future__ import annotations

import datetime

import httpx
import pytest
from celery import states as celery_states
from qstash.errors import DailyMessageLimitExceededError, QStashError, RateLimitExceededError

from django_qstash import states
from django_qstash.options import duration, duration_seconds, whole_seconds
from django_qstash.sdk_errors import translate_sdk_error

CELERY_NAMES = [
    "PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "REVOKED", "REJECTED", "RETRY",
    "IGNORED", "READY_STATES", "UNREADY_STATES", "EXCEPTION_STATES", "PROPAGATE_STATES",
    "ALL_STATES", "PRECEDENCE", "PRECEDENCE_LOOKUP", "NONE_PRECEDENCE",
]  # fmt: skip


@pytest.mark.parametrize("name", CELERY_NAMES)
def test_states_has_celery_states_names_and_values(name):
    assert getattr(states, name) == getattr(celery_states, name)


@pytest.mark.parametrize("name", [*states.ALL_STATES, "REJECTED", "IGNORED", "UNKNOWN", None])
def test_precedence_orders_as_celery_does(name):
    assert states.precedence(name) == celery_states.precedence(name)
    for other in states.ALL_STATES:
        if name is not None:
            assert (states.state(name) > other) == (celery_states.state(name) > other)
            assert (states.state(name) <= other) == (celery_states.state(name) <= other)


def test_the_state_enum_is_the_strings():
    assert states.TaskState.SUCCESS == "SUCCESS"
    assert {member.value for member in states.TaskState} == states.ALL_STATES


def test_every_vocabulary_user_speaks_it():
    from django_qstash import result, runner
    from django_qstash.results.models import TaskStatus

    assert (runner.SUCCESS, runner.FAILURE, runner.RETRY) == (
        states.SUCCESS,
        states.FAILURE,
        states.RETRY,
    )
    assert result.READY_STATES <= states.READY_STATES
    assert {value for value, _ in TaskStatus.choices} <= states.ALL_STATES


def test_sdk_errors_read_once():
    refused = translate_sdk_error(
        QStashError('Request failed with status: 400, body: {"error":"bad delay"}')
    )
    assert (refused.kind, refused.status, refused.reason) == ("refused", 400, "bad delay")
    assert refused.body == '{"error":"bad delay"}'
    plain = translate_sdk_error(QStashError("Request failed with status: 500, body: oops"))
    assert (plain.status, plain.reason) == (500, "oops")
    assert translate_sdk_error(QStashError("something else")).status is None
    limited = translate_sdk_error(RateLimitExceededError("10", "0", "later"))
    assert (limited.kind, limited.status, limited.reset) == ("rate_limited", 429, "later")
    daily = translate_sdk_error(DailyMessageLimitExceededError("500", "0", "tomorrow"))
    assert (daily.kind, daily.limit) == ("daily_limit", "500")
    assert translate_sdk_error(httpx.ConnectError("refused")).kind == "unreachable"
    assert translate_sdk_error(ConnectionRefusedError()).kind == "unreachable"
    assert translate_sdk_error(KeyError("x")).kind == "unexpected"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("30", 30.0),
        ("30s", 30.0),
        (" 2m ", 120.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("500ms", 0.5),
        (datetime.timedelta(minutes=1), 60.0),
    ],
)
def test_one_duration_parser(value, seconds):
    assert duration_seconds(value) == seconds


@pytest.mark.parametrize("value", ["soon", "", "30x", float("nan")])
def test_a_bad_duration_says_what_it_got(value):
    with pytest.raises(ValueError, match="duration"):
        duration_seconds(value)


@pytest.mark.parametrize("value", [True, None, [30]])
def test_a_duration_of_the_wrong_type(value):
    with pytest.raises(TypeError, match="duration"):
        duration_seconds(value)


def test_whole_seconds_and_the_header_form():
    assert whole_seconds("2m") == 120
    assert whole_seconds(0.2) == 1
    assert whole_seconds("soon") is None
    assert duration(90.2) == "91s"
    assert duration("2m") == "2m"
