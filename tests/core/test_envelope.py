from __future__ import annotations

import datetime
import decimal
import json
import uuid
from typing import Any

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
        ({"data": {"nested": [1, object()]}}, "kwargs['data']['nested'][1] is an object,"),
        ({"ratio": float("nan")}, "NaN and infinity"),
        ({"raw": b"x"}, "pass a str"),
        ({"raw": b"x"}, "kwargs['raw'] is a bytes object,"),
        ({"raw": bytearray(b"x")}, "kwargs['raw'] is a bytearray object,"),
        ({"ident": uuid.uuid4()}, "kwargs['ident'] is a UUID,"),
        ({"count": 2 + 1j}, "kwargs['count'] is a complex,"),
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
        (b'{"v": 1.0, "task": "t"}', "unknown envelope version 1.0"),
        (b'{"v": true, "task": "t"}', "unknown envelope version True"),
        (b'{"v": "1", "task": "t"}', "unknown envelope version '1'"),
        ('{"v": 1, "task": "t"}'.encode("utf-16"), "not valid UTF-8 JSON"),
        (b'{"v": 1, "task": "t", "args": [NaN]}', "NaN is not a JSON value"),
        (b'{"v": 1, "task": "t", "args": [-Infinity]}', "-Infinity is not a JSON value"),
        (b'{"v": 1, "task": "t", "args": ["\\ud800"]}', "lone surrogate"),
        (b'{"v": 1, "task": "t", "kwargs": {"\\uDC00": 1}}', "lone surrogate"),
        (b'{"v": 1, "task": "t", "args": ["\\ude00\\ud83d"]}', "lone surrogate"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body, reason):
    with pytest.raises(MalformedMessage, match=reason.replace("(", r"\(")):
        envelope.decode(body)


def test_escapes_that_make_valid_text_are_accepted():
    # A surrogate pair (an emoji), an escaped backslash before "ud800", and raw UTF-8.
    body = '{"v": 1, "task": "t", "args": ["\\ud83d\\ude00", "\\\\ud800", "é😀"]}'.encode()
    assert envelope.decode(body).args == ["\U0001f600", "\\ud800", "é😀"]


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_is_limited_at_both_ends():
    # Arguments at the limit go through; one level more is refused when publishing, and a body
    # built elsewhere with it is refused by the webhook: never a RecursionError downstream.
    deepest = envelope.MAX_NESTING - 2  # the envelope object and its "args" list are two levels
    body = envelope.build("t", [_nested(deepest)], {"k": {"a": _nested(deepest - 1)}})
    assert envelope.decode(body).args == [_nested(deepest)]
    with pytest.raises(ArgumentsNotSerializable, match="nest deeper than"):
        envelope.build("t", [_nested(deepest + 1)])
    with pytest.raises(ArgumentsNotSerializable, match="nest deeper than"):
        envelope.build("t", (), {"k": _nested(5000)})
    too_deep = json.dumps({"v": 1, "task": "t", "args": [_nested(deepest + 1)]}).encode()
    with pytest.raises(MalformedMessage, match="nests deeper than"):
        envelope.decode(too_deep)
    # Many brackets, little depth (and brackets inside strings) are fine.
    wide = envelope.build("t", [[[1]] * 500, "[[[[{{{{" * 100])
    assert len(envelope.decode(wide).args[0]) == 500


@pytest.mark.parametrize(
    "value",
    [
        [1, -2, 3.5, 1e300, True, False, None],
        {"é": "😀\u2028", 'quote"': "back\\slash", "nested": {"a": [[], {}]}},
        ["\x00\x1f", "tab\t", 2**70],
    ],
)
def test_the_body_is_what_json_writes(value):
    # The encoder built once writes exactly what json.dumps does with the same options.
    body = envelope.build("t", [value], {"k": value})
    expected = json.dumps(
        {"v": 1, "task": "t", "args": [value], "kwargs": {"k": value}},
        separators=(",", ":"),
        allow_nan=False,
    )
    assert body == expected.encode()


def test_a_value_that_contains_itself_is_refused():
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ArgumentsNotSerializable, match="or contain themselves"):
        envelope.build("t", [loop])


def test_not_a_number_is_refused_naming_the_argument():
    with pytest.raises(ArgumentsNotSerializable, match=r"kwargs\['ratio'\]"):
        envelope.build("t", [], {"ratio": float("nan")})
