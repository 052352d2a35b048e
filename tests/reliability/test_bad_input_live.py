"""Bad input over live HTTP, correctly signed: the webhook answers with a clear, non-retryable
refusal (``489`` + ``Upstash-NonRetryable-Error: true`` and a JSON reason; ``413``/``415``
where HTTP says so), never a ``500``, and nothing runs: no side effect, no stored result.

Then a property-based fuzz (hypothesis) of the live webhook with signed random envelopes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import RECORD, Webhook, assert_refused, new_id

pytestmark = pytest.mark.slow

LIMIT = 1_048_576  # DJANGO_QSTASH_MAX_BODY_SIZE's default


@pytest.fixture
def quiet(webhook: Webhook) -> Iterator[Webhook]:
    """The webhook; asserts that the test left no side effect and no stored result behind."""
    runs, results = webhook.total_runs(), webhook.total_results()
    yield webhook
    assert (webhook.total_runs(), webhook.total_results()) == (runs, results)


def env(task: Any = RECORD, *, v: Any = 1, **fields: Any) -> bytes:
    data = {"v": v, "task": task, "args": [new_id("bad")], "kwargs": {}}
    data.update(fields)
    return json.dumps(data).encode()


MALFORMED: dict[str, bytes] = {
    "empty body": b"",
    "not JSON": b"hello, webhook",
    "truncated JSON": env()[:-1],
    "JSON array": b"[1, 2, 3]",
    "JSON string": b'"example.tasks.record"',
    "JSON number": b"42",
    "JSON null": b"null",
    "JSON true": b"true",
    "no version": json.dumps({"task": RECORD, "args": ["k"]}).encode(),
    "version 2": env(v=2),
    "version 0": env(v=0),
    "version as a string": env(v="1"),
    "version as a float": env(v=1.0),
    "version as true": env(v=True),
    "version null": env(v=None),
    "task missing": json.dumps({"v": 1, "args": ["k"]}).encode(),
    "task empty": env(task=""),
    "task a number": env(task=7),
    "task a list": env(task=[RECORD]),
    "args an object": env(args={"key": "k"}),
    "args a string": env(args="k"),
    "kwargs a list": env(kwargs=[["key", "k"]]),
    "options a list": env(options=["eta"]),
    "invalid UTF-8": b"\xff\xfe\xfd",
    "invalid UTF-8 inside a string": env().replace(b'"bad_', b'"\xc3\x28bad_'),
    "overlong UTF-8": env().replace(b'"bad_', b'"\xc0\xafbad_'),
    "UTF-16": env().decode().encode("utf-16"),
    "deeply nested array": b"[" * 200_000 + b"]" * 200_000,
    "deeply nested argument": env().replace(b'"args": [', b'"args": [' + b"[" * 100_000, 1)[:-1]
    + b"]" * 100_000
    + b"}",
    # Deep enough to decode, too deep to store: it used to run and then fail retryably.
    "argument nested 950 deep": env().replace(b'"args": [', b'"args": [' + b"[" * 950, 1)[:-1]
    + b"]" * 950
    + b"}",
    "argument nested one level too deep": env().replace(b'"args": [', b'"args": [' + b"[" * 99, 1)[
        :-1
    ]
    + b"]" * 99
    + b"}",
    "NaN argument": env().replace(b'"args": [', b'"args": [NaN, '),
    "Infinity argument": env().replace(b'"args": [', b'"args": [-Infinity, '),
    "lone surrogate in an argument": env().replace(b'"bad_', b'"\\ud800bad_'),
    "lone surrogate in the task name": env(task="example.tasks.record\udc00"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_message_is_refused_for_good(quiet: Webhook, case: str):
    response = quiet.post(MALFORMED[case])
    body = assert_refused(response, 489, "malformed_message")
    assert body["error"]


UNKNOWN_TASKS = [
    "example.tasks.nope",
    "os.system",
    "subprocess.run",
    "builtins.eval",
    "builtins.exec",
    "builtins.__import__",
    "shutil.rmtree",
    "pathlib.Path.touch",
    "django.core.management.call_command",
    "example.tasks.TaskRun.objects.create",  # an attribute path through a task module
    "example.tasks.record.run",
    "example.tasks.record.delay",
    "example.tasks.record.__call__",
    "example.tasks",
    "example.tasks.",
    ".example.tasks.record",
    "example/tasks/record",
    "EXAMPLE.TASKS.RECORD",
    " example.tasks.record",
    "example.tasks.record\x00",
    "example.tasks.record" + "x" * 10_000,
]


@pytest.mark.parametrize("name", UNKNOWN_TASKS, ids=range(len(UNKNOWN_TASKS)))
def test_a_task_that_is_not_registered_is_refused_and_nothing_is_imported(
    quiet: Webhook, name: str, tmp_path: Path
):
    marker = tmp_path / "pwned"
    # Arguments that would leave a trace if any of these callables ran.
    body = json.dumps({"v": 1, "task": name, "args": [f"touch {marker}"], "kwargs": {}}).encode()
    response = quiet.post(body)
    body_json = assert_refused(response, 489, "unknown_task")
    assert "no task named" in body_json["error"]
    assert not marker.exists()
    # The same with the path as an argument that pathlib.Path.touch would take.
    response = quiet.post(json.dumps({"v": 1, "task": name, "args": [str(marker)]}).encode())
    assert_refused(response, 489, "unknown_task")
    assert not marker.exists()


UNBOUND: dict[str, tuple[str, list[Any], dict[str, Any]]] = {
    "no arguments": (RECORD, [], {}),
    "one too many": (RECORD, ["k", "v", "extra"], {}),
    "an unknown keyword": (RECORD, ["k"], {"nope": 1}),
    "a keyword given twice": (RECORD, ["k"], {"key": "k2"}),
    "a missing required argument": ("example.tasks.fail_until", ["k"], {}),
    "an empty keyword": (RECORD, ["k"], {"": 1}),
    "a non-identifier keyword": (RECORD, ["k"], {"key; drop table": 1}),
    "arguments to a no-argument hook": ("example.tasks.async_double", [], {"value": 1, "x": 2}),
}


@pytest.mark.parametrize("case", list(UNBOUND))
def test_arguments_that_do_not_bind_are_refused(quiet: Webhook, case: str):
    task, args, kwargs = UNBOUND[case]
    body = json.dumps({"v": 1, "task": task, "args": args, "kwargs": kwargs}).encode()
    assert_refused(quiet.post(body), 489, "bad_arguments")


def test_a_body_over_the_limit_is_refused_unread(quiet: Webhook):
    huge = env(RECORD, args=["k", "x" * (LIMIT + 10)])
    # On its own connection: the server answers without reading the body, then closes it.
    with httpx.Client(trust_env=False, timeout=60) as client:
        response = client.post(
            quiet.url,
            content=huge,
            headers={"Content-Type": "application/json", "Upstash-Signature": quiet.token(huge)},
        )
    assert_refused(response, 413, "too_large")


def test_an_argument_nested_as_deep_as_allowed_runs(webhook: Webhook):
    key = new_id("deep")
    body = env(RECORD, args=[key], kwargs={})
    body = body.replace(b"]", b", " + b"[" * 98 + b"]" * 98 + b"]", 1)
    response = webhook.post(body)
    assert response.status_code == 200, response.text
    assert webhook.runs(key) == 1


def test_a_body_just_under_the_limit_runs(webhook: Webhook):
    key = new_id("big")
    prefix = json.dumps({"v": 1, "task": RECORD, "args": [key, ""]}).encode()
    body = prefix[:-3] + b"y" * (LIMIT - len(prefix)) + b'"]}'
    assert len(body) == LIMIT
    json.loads(body)
    response = webhook.post(body)
    assert response.status_code == 200, response.text[:300]
    assert webhook.runs(key) == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_by_its_type_is_refused(quiet: Webhook, content_type: str):
    assert_refused(quiet.post(env(), content_type=content_type), 415, "unsupported_media_type")


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_only_post_is_answered(quiet: Webhook, method: str):
    body = env()
    response = quiet.http.request(
        method,
        quiet.url,
        content=body if method != "GET" else None,
        headers={"Content-Type": "application/json", "Upstash-Signature": quiet.token(body)},
    )
    assert_refused(response, 405, "method_not_allowed")


def test_garbage_delivery_headers_do_not_matter(webhook: Webhook):
    # Upstash-Retried and Upstash-Message-Id are not signed: nonsense there is tolerated.
    key = new_id("hdr")
    body = json.dumps({"v": 1, "task": RECORD, "args": [key]}).encode()
    response = webhook.post(
        body, headers={"Upstash-Retried": "-7e9999", "Upstash-Message-Id": "x" * 2000}
    )
    assert response.status_code == 200, response.text
    assert webhook.runs(key) == 1


# --------------------------------------------------------------------------- the fuzz test

# Registered tasks of the sample project, with the side effects counted in example_taskrun,
# and names that are not tasks (including import paths that would be dangerous to import).
REGISTERED = [
    RECORD,
    "example.tasks.fail_until",
    "example.tasks.always_fails",
    "example.tasks.bound_info",
    "example.tasks.hello_world",
    "example.tasks.async_double",
]
NOT_TASKS = ["os.system", "builtins.eval", "subprocess.call", "example.tasks.TaskRun", ""]

lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
task_names = st.integers(0, 5).flatmap(
    lambda i: st.sampled_from(REGISTERED) if i < 4 else st.sampled_from(NOT_TASKS) | st.text()
)
keywords = st.sampled_from(["key", "value", "succeed_on_attempt", "name", "age", "x"]) | st.text(
    max_size=6
)
# Mostly well-formed envelopes of registered tasks with random arguments (some bind, some not),
well_formed = st.fixed_dictionaries(
    {
        "v": st.just(1),
        "task": task_names,
        "args": st.lists(json_values, max_size=3),
        "kwargs": st.dictionaries(keywords, json_values, max_size=1),
    }
)
# some with any field missing or of any type,
mutated = st.fixed_dictionaries(
    {},
    optional={
        "v": st.sampled_from([1, 2, "1", 1.0, True, None]),
        "task": task_names | json_values,
        "args": st.lists(json_values, max_size=3) | json_values | st.lists(lone_surrogates),
        "kwargs": st.dictionaries(keywords, json_values, max_size=2) | json_values,
        "options": st.dictionaries(st.text(max_size=10), json_values, max_size=3) | json_values,
    },
)
# and any JSON at all.
bodies = (
    st.integers(0, 9)
    .flatmap(lambda i: well_formed if i < 7 else mutated if i < 9 else json_values)
    .map(lambda value: json.dumps(value).encode())
)

REFUSALS = {"malformed_message", "unknown_task", "bad_arguments"}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)
@given(body=bodies, retried=st.integers(min_value=0, max_value=5))
def test_fuzz_signed_random_envelopes(webhook: Webhook, body: bytes, retried: int):
    message_id = new_id("fuzz")
    runs_before = webhook.total_runs()
    response = webhook.post(body, message_id=message_id, retried=retried)
    status = response.status_code
    event(f"{status} {response.json().get('status') if response.content else ''}")
    assert response.headers["Content-Type"] == "application/json", (status, response.text[:500])
    answer = response.json()
    assert isinstance(answer, dict), answer
    assert isinstance(answer.get("status"), str), answer
    if status == 489 and answer["status"] in REFUSALS:
        # Refused: nothing ran, nothing was stored.
        assert response.headers["Upstash-NonRetryable-Error"] == "true"
        assert answer.get("error")
        assert webhook.total_runs() == runs_before
        assert webhook.results(message_id) == []
        return
    # Otherwise a registered task ran: it succeeded (200), or raised (500, or 489 when its own
    # rules or the message's retries say stop), and its outcome is stored.
    data = json.loads(body)
    assert isinstance(data, dict), (status, answer, body)
    assert data.get("task") in REGISTERED, (status, answer, body)
    assert (status, answer["status"]) in {(200, "success"), (500, "failure"), (489, "failure")}, (
        status,
        answer,
    )
    if status == 489:
        assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert answer["stored"] is True, answer
    assert webhook.results(message_id), "a delivery that ran has a stored result"
    assert not any(isinstance(x, float) and math.isnan(x) for x in [answer.get("result")])


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(suffix=st.text(max_size=20), value=json_values, as_keyword=st.booleans())
def test_fuzz_a_registered_task_gets_any_json_arguments_intact_and_runs_once(
    webhook: Webhook, suffix: str, value: Any, as_keyword: bool
):
    key = new_id("arg") + suffix
    if as_keyword:
        body = json.dumps(
            {"v": 1, "task": RECORD, "args": [], "kwargs": {"key": key, "value": value}}
        )
    else:
        body = json.dumps({"v": 1, "task": RECORD, "args": [key, value]})
    message_id = new_id("fuzz")
    response = webhook.post(body.encode(), message_id=message_id)
    assert (response.status_code, response.json()["status"]) == (200, "success"), response.text
    assert response.json()["result"] == key
    (stored,) = webhook.server.query("SELECT value FROM example_taskrun WHERE key = ?", (key,))
    assert (json.loads(stored[0]) if isinstance(stored[0], str) else stored[0]) == value
    assert [status for status, _ in webhook.results(message_id)] == ["SUCCESS"]
