from __future__ import annotations

import datetime
import decimal
import json
import uuid

import pytest

from django_qstash import envelope
from django_qstash.exceptions import ArgumentsNotSerializable, MalformedMessage


def test_round_trip_keeps_task_arguments_and_options():
    body = envelope.build("app.tasks.add", (1, 2), {"x": [1, {"y": None}]}, {"max_retries": 2})
    decoded = envelope.decode(body)
    assert decoded == envelope.Envelope(
        "app.tasks.add", [1, 2], {"x": [1, {"y": None}]}, {"max_retries": 2}
    )
    assert json.loads(body)["v"] == envelope.ENVELOPE_VERSION


def test_options_are_omitted_when_empty():
    assert "options" not in json.loads(envelope.build("t", (), {}))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"when": datetime.datetime(2024, 1, 1)}, "kwargs['when'] is a datetime"),
        ({"when": datetime.date(2024, 1, 1)}, "isoformat()"),
        ({"amount": decimal.Decimal("1.5")}, "pass str(kwargs['amount'])"),
        ({"ident": uuid.uuid4()}, "kwargs['ident'] is a UUID"),
        ({"tags": {"a"}}, "pass a list instead"),
        ({"data": {"nested": [1, object()]}}, "kwargs['data']['nested'][1] is a object"),
        ({"ratio": float("nan")}, "NaN and infinity"),
        ({"raw": b"x"}, "pass a str"),
    ],
)
def test_unserialisable_arguments_are_named_with_a_fix(kwargs, expected):
    with pytest.raises(ArgumentsNotSerializable) as info:
        envelope.build("t", (), kwargs)
    assert expected in str(info.value)
    assert "Nothing was published" in str(info.value)


def test_positional_argument_is_named_by_index():
    with pytest.raises(ArgumentsNotSerializable, match=r"args\[1\] is a datetime"):
        envelope.build("t", ("ok", datetime.datetime.now()))


@pytest.mark.django_db
def test_model_instances_get_a_primary_key_hint():
    from example.models import TaskRun

    run = TaskRun.objects.create(task="x")
    with pytest.raises(
        ArgumentsNotSerializable, match=r"pass its primary key \(kwargs\['run'\].pk\)"
    ):
        envelope.build("t", (), {"run": run})
    with pytest.raises(ArgumentsNotSerializable, match="list of primary keys"):
        envelope.build("t", (), {"runs": TaskRun.objects.all()})


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid UTF-8 JSON"),
        (b"\xff\xfe", "not valid UTF-8 JSON"),
        (b"[1, 2]", "must be a JSON object, not list"),
        (b'"text"', "must be a JSON object, not str"),
        (b'{"task": "t"}', "no envelope version"),
        (b'{"v": 99, "task": "t"}', "unknown envelope version 99"),
        (b'{"v": 1}', "'task' must be a non-empty string"),
        (b'{"v": 1, "task": 3}', "'task' must be a non-empty string"),
        (b'{"v": 1, "task": "t", "args": {}}', "'args' must be a JSON array"),
        (b'{"v": 1, "task": "t", "kwargs": []}', "'kwargs' must be a JSON object"),
        (b'{"v": 1, "task": "t", "options": 1}', "'options' must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body, reason):
    with pytest.raises(MalformedMessage, match=reason.replace("(", r"\(")):
        envelope.decode(body)
