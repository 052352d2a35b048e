"""Argument normalisation as Django's enqueue does it, with errors that name the argument."""

from __future__ import annotations

import datetime
import math
from collections import OrderedDict, UserDict, UserList

import pytest

from django_qstash.exceptions import ArgumentsNotSerializable
from django_qstash.task_arguments import normalize_arguments
from django_qstash.tasks_compat import normalize_json


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((b"abc", (1, 2), UserList([b"x"])), {"m": UserDict({"k": (b"v",)})}),
        ((OrderedDict(a=1), [None, True, 1.5]), {}),
        ((), {"deep": [[[(b"\xc3\xa9",)]]]}),
    ],
)
def test_the_same_values_as_django(args, kwargs):
    assert normalize_arguments(args, kwargs) == (
        normalize_json(list(args)),
        normalize_json(dict(kwargs)),
    )


def test_undecodable_bytes_are_djangos_value_error_naming_the_argument():
    with pytest.raises(ValueError, match=r"^Unsupported value.*kwargs\['a'\]\[1\] is bytes"):
        normalize_arguments((), {"a": [b"ok", b"\xff"]})


def test_another_type_is_djangos_type_error_naming_the_argument():
    with pytest.raises(
        ArgumentsNotSerializable, match=r"^Unsupported type.*args\[1\]\[0\]"
    ) as info:
        normalize_arguments((1, [datetime.date(2026, 1, 1)]), {})
    assert isinstance(info.value, TypeError)
    assert "Nothing was published" in str(info.value)


def test_nan_is_left_to_the_envelope():
    # normalize_json lets floats through; the strict JSON envelope refuses them later.
    assert math.isnan(normalize_arguments((math.nan,), {})[0][0])
