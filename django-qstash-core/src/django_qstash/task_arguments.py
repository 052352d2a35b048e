"""A ``django.tasks`` task's arguments, normalised exactly as Django's ``enqueue`` normalises them.

Django passes ``args``/``kwargs`` through ``normalize_json`` when it builds a ``TaskResult``:
bytes become text, tuples and other sequences become lists, other mappings become dicts. The
function then receives those normalised values, and so does the webhook here: the message carries
what the ``TaskResult`` shows. Django's own errors are kept (``ValueError("Unsupported value")``
for bytes that are not UTF-8, ``TypeError("Unsupported type")`` for anything else), and say which
argument is at fault.

One rule is stricter than Django's: QStash messages are strict JSON, so NaN and infinity are
refused (by the envelope, with :class:`~django_qstash.exceptions.ArgumentsNotSerializable`)
where Django's in-process backends would pass them on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django_qstash.envelope import a_value_of, json_hint
from django_qstash.exceptions import ArgumentsNotSerializable
from django_qstash.tasks_compat import normalize_json

NOTHING_PUBLISHED = "Nothing was published."

#: Where a refused value sits (``kwargs['a'][2]``) and the value itself.
Offender = tuple[str, Any]


def normalize_arguments(
    args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` as Django normalises them; raises Django's errors, naming the value."""
    try:
        return normalize_json(list(args)), normalize_json(dict(kwargs))
    except ValueError as exc:
        path, _ = _first_offender(args, kwargs, undecodable=True)
        raise ValueError(
            f"{exc}: {path} is bytes that are not UTF-8 text, which Django's Tasks framework "
            f"cannot turn into text (decode it, or base64-encode it). {NOTHING_PUBLISHED}"
        ) from None
    except TypeError as exc:
        path, value = _first_offender(args, kwargs, undecodable=False)
        raise ArgumentsNotSerializable(
            f"{exc}: {path} is {a_value_of(type(value))}, which cannot be sent as JSON: "
            f"{json_hint(value, path)}. {NOTHING_PUBLISHED}"
        ) from None


def _first_offender(
    args: Sequence[Any], kwargs: Mapping[str, Any], *, undecodable: bool
) -> Offender:
    """The first value ``normalize_json`` refuses, and where it sits."""
    for root, value in (("args", list(args)), ("kwargs", dict(kwargs))):
        found = _find(value, root, undecodable)
        if found is not None:
            return found
    return ("an argument", None)


def _find(value: Any, path: str, undecodable: bool) -> Offender | None:
    # The same order of cases as Django's normalize_json, so the path is the value it refused.
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find(key, f"{path} key {key!r}", undecodable)
            found = found or _find(item, f"{path}[{key!r}]", undecodable)
            if found is not None:
                return found
        return None
    if isinstance(value, bytes):
        try:
            value.decode()
        except UnicodeDecodeError:
            return (path, value) if undecodable else None
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return None
    if isinstance(value, Sequence):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]", undecodable)
            if found is not None:
                return found
        return None
    return None if undecodable else (path, value)
