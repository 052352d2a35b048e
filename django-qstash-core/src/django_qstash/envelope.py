"""The one JSON envelope every delivery carries, whoever published it.

``.delay()``, schedules, retries, chains and the django.tasks backend all build it here, so the
webhook cannot tell them apart. Wire format (version 1)::

    {"v": 1, "task": "app.tasks.add", "args": [1, 2], "kwargs": {}, "options": {...}}

``options`` is optional and holds per-message runtime data, each key only when it applies:

* ``max_retries``: the message's ``Upstash-Retries`` (so the webhook knows the last attempt);
* ``task_id``: Celery's task id when it is not this message's id (``task_id=``, ``self.retry()``);
* ``retries``: retries before this message (``self.retry()`` republishes);
* ``eta``, ``expires``: ISO 8601 times (``countdown``/``eta``; an expired message is not run);
* ``headers``: Celery message headers given per call (``self.request.headers``);
* ``link``, ``link_error``: signatures (dicts) run from QStash's callbacks; a chain's rest is a
  ``link``;
* ``root_id``, ``parent_id``, ``group_id``, ``shadow``, ``ignore_result``;
* ``chord``: ``{"id", "index"}`` of a chord's header task (its outcome counts toward the join);
* ``publish``: per-call publish options (queue, timeout, ...) a ``self.retry()`` reuses.
* ``django_task``: a ``django.tasks`` task's ``enqueued_at`` (ISO 8601) and the ``using()``
  options it was enqueued with, where they differ from the task as defined.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django_qstash.exceptions import ArgumentsNotSerializable, MalformedMessage

ENVELOPE_VERSION = 1
SUPPORTED_VERSIONS = frozenset({ENVELOPE_VERSION})

_encoder_unicode = json.JSONEncoder(ensure_ascii=False)


def _compact_encoder() -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode``, built once.

    The encoder's ``encode()`` builds a new C encoder on every call, which costs more than the
    encoding of a small message (it was the largest cost of ``.delay()`` after the SDK's own).
    This one is built once, without the circular-reference bookkeeping (whose state could not
    be shared between threads): a value that contains itself recurses until RecursionError,
    which :func:`build` reports as a value that nests too deeply. Without the C accelerator
    (not CPython), the plain encoder.
    """
    encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    make_encoder = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
    if make_encoder is None:
        return encoder.encode
    chunks = make_encoder(
        None,  # markers: no circular-reference check
        encoder.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ":",
        ",",
        False,  # sort_keys
        False,  # skipkeys
        False,  # allow_nan
    )

    def encode(value: Any) -> str:
        return "".join(chunks(value, 0))

    return encode


_encode_compact = _compact_encoder()


@dataclass(slots=True)  # not frozen: a frozen dataclass costs twice as much to build per delivery
class Envelope:
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)


#: How deeply a message may nest (the envelope object is level 1). Deeper values could be decoded
#: but not stored or logged everywhere (Python's recursion limit), so they are refused at both
#: ends: ``.delay()`` raises, and the webhook answers a message built elsewhere with 489.
MAX_NESTING = 100


def _nests_too_deep(text: str, data: Any) -> bool:
    """Whether ``data``, whose JSON text is ``text``, nests deeper than :data:`MAX_NESTING`.
    Fewer brackets than that cannot nest that deep: the usual message costs two counts."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        if depth > MAX_NESTING:
            return True
        stack.extend((item, depth + 1) for item in value)
    return False


def encode(envelope: Envelope) -> bytes:
    """Serialise an envelope; a value that is not JSON raises, naming the argument."""
    return build(envelope.task, envelope.args, envelope.kwargs, envelope.options)


def build(
    task_name: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> bytes:
    """Build and encode the envelope for one task call (the wire format above); a value that is
    not JSON raises, naming the argument."""
    data: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "task": task_name,
        "args": list(args),
        "kwargs": dict(kwargs or {}),
    }
    if options:
        data["options"] = dict(options)
    try:
        text = _encode_compact(data)
    except (TypeError, ValueError) as exc:
        raise _explain_unserialisable(data, exc) from exc
    except RecursionError:
        text = ""
    if not text or _nests_too_deep(text, data):
        raise ArgumentsNotSerializable(
            f"the arguments nest deeper than {MAX_NESTING - 2} levels (or contain themselves), "
            "more than a message may hold. Nothing was published."
        )
    return text.encode()


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


# Built once: json.loads() with any keyword argument builds a new decoder on every call.
_decoder = json.JSONDecoder(parse_constant=_not_json)


#: A ``\\uD800``-``\\uDFFF`` escape: the only way a JSON text can hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def decode(body: bytes | str) -> Envelope:
    """Parse a delivered body, or raise :class:`MalformedMessage` saying what is wrong.

    The body must be strict JSON in UTF-8, as :func:`encode` writes it: no other encoding, no
    ``NaN``/``Infinity``, no lone surrogates (which no database or log can store, so a message
    holding one could never be handled and is refused before anything runs).
    """
    try:
        text = body.decode() if isinstance(body, (bytes, bytearray)) else body
        data = _decoder.decode(text)
        if "\\u" in text and _SURROGATE_ESCAPE.search(text):
            # Surrogate pairs decode to one character; a lone one cannot be encoded.
            _encoder_unicode.encode(data).encode()
    except RecursionError:
        raise MalformedMessage("the body nests too deeply to be a django-qstash message") from None
    except UnicodeEncodeError:
        raise MalformedMessage(
            "the body is not valid UTF-8 JSON: it holds a lone surrogate (\\ud800-\\udfff)"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"the body is not valid UTF-8 JSON: {exc}") from None
    if _nests_too_deep(text, data):
        raise MalformedMessage(
            f"the body nests deeper than {MAX_NESTING} levels, more than a django-qstash "
            "message may hold"
        )
    return from_dict(data)


def from_dict(data: Any) -> Envelope:
    if not isinstance(data, dict):
        raise MalformedMessage(
            f"the body must be a JSON object, not {type(data).__name__} "
            "(was this message published by django-qstash?)"
        )
    version = data.get("v")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:  # not 1.0, not true
        if version is None:
            raise MalformedMessage("the message has no envelope version 'v'")
        raise MalformedMessage(
            f"unknown envelope version {version!r}; this django-qstash understands "
            f"{sorted(SUPPORTED_VERSIONS)}"
        )
    task = data.get("task")
    if not isinstance(task, str) or not task:
        raise MalformedMessage("'task' must be a non-empty string")
    args = data.get("args", [])
    if not isinstance(args, list):
        raise MalformedMessage("'args' must be a JSON array")
    kwargs = data.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise MalformedMessage("'kwargs' must be a JSON object")
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise MalformedMessage("'options' must be a JSON object")
    return Envelope(task, args, kwargs, options)


# --------------------------------------------------------------------------- error messages

_HINTS: list[tuple[type, str]] = [
    (datetime.datetime, "pass an ISO 8601 string ({name}.isoformat()) or a timestamp instead"),
    (datetime.date, "pass an ISO 8601 string ({name}.isoformat()) instead"),
    (datetime.time, "pass an ISO 8601 string ({name}.isoformat()) instead"),
    (datetime.timedelta, "pass a number of seconds ({name}.total_seconds()) instead"),
    (decimal.Decimal, "pass str({name}) instead"),
    (uuid.UUID, "pass str({name}) instead"),
    ((set, frozenset), "pass a list instead"),  # type: ignore[list-item]
    ((bytes, bytearray), "pass a str (decode or base64-encode it) instead"),  # type: ignore[list-item]
]


def a_value_of(kind: type) -> str:
    """'a datetime', 'an object', 'a UUID', 'a bytes object': the type's name with its article."""
    name = kind.__name__
    if name in ("bytes", "bytearray"):  # "a bytes" reads as a typo
        name = f"{name} object"
    if name[:2].isupper():  # an acronym is spelled out: "an HTTPResponse", "a UUID"
        vowel_sound = name[0] in "AEFHILMNORSX"
    else:
        vowel_sound = name[0].lower() in "aeio" or (
            name[0].lower() == "u" and not name.lower().startswith(("uni", "use", "usu", "uu"))
        )
    return f"{'an' if vowel_sound else 'a'} {name}"


def json_hint(value: Any, name: str) -> str:
    """How to pass ``value`` (the argument ``name``) as JSON instead."""
    try:
        from django.db.models import Model, QuerySet

        if isinstance(value, Model):
            return f"pass its primary key ({name}.pk) and fetch the object inside the task"
        if isinstance(value, QuerySet):
            return "pass a list of primary keys and query inside the task"
    except ImportError:  # pragma: no cover - Django is a dependency
        pass
    for types, hint in _HINTS:
        if isinstance(value, types):
            return hint.format(name=name)
    if isinstance(value, float):
        return "NaN and infinity are not valid JSON; pass None or a string"
    return "pass plain JSON values (str, int, float, bool, None, lists and dicts with str keys)"


def _find_bad_value(value: Any, path: str) -> tuple[str, Any] | None:
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return (
            None if value == value and value not in (float("inf"), float("-inf")) else (path, value)
        )
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _find_bad_value(item, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return (f"{path} key {key!r}", key)
            found = _find_bad_value(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    return (path, value)


def _explain_unserialisable(data: Mapping[str, Any], exc: Exception) -> ArgumentsNotSerializable:
    for root in ("args", "kwargs"):
        value = data.get(root)
        found = _find_bad_value(value, root)
        if found:
            path, bad = found
            return ArgumentsNotSerializable(
                f"{path} is {a_value_of(type(bad))}, which cannot be sent as JSON: "
                f"{json_hint(bad, path)}. Nothing was published."
            )
    return ArgumentsNotSerializable(f"the task message cannot be sent as JSON ({exc}).")
