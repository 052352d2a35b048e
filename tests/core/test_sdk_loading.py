"""Cold start: nothing of the SDK, httpx or TLS before the first publish; then the SDK, imported
as it is, for the sync client and for async ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import django
import pytest

from django_qstash.devserver.process import stop_process

ROOT = Path(__file__).resolve().parents[2]


def run_in_fresh_process(
    code: str, qstash_url: str, settings: str = "benchmarks.settings"
) -> dict[str, object]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "DJANGO_SETTINGS_MODULE": settings,
        "QSTASH_URL": qstash_url,
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# (Not ssl: a bare Django imports it already.)
HEAVY = ("qstash", "httpx", "httpcore", "certifi", "jwt")


@pytest.fixture
def qstash_stub() -> Iterator[str]:
    """The benchmarks' loopback stand-in for QStash's publish endpoint; its URL."""
    stub = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._qstash_stub"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert stub.stdout is not None
    try:
        yield f"http://127.0.0.1:{stub.stdout.readline().strip()}"
    finally:
        stop_process(stub)


def test_setup_loads_nothing_of_the_sdk_and_the_first_publish_loads_it(qstash_stub):
    found = run_in_fresh_process(
        f"""
        import asyncio, json, sys
        import django
        django.setup()
        from benchmarks.startup_tasks import startup_noop
        before = [m for m in {HEAVY!r} if m in sys.modules]
        message_id = startup_noop.delay(1).id
        after = [m for m in {HEAVY!r} if m in sys.modules]
        async_id = asyncio.run(startup_noop.adelay(2)).id
        print(json.dumps({{"before": before, "after": after, "id": message_id,
                           "async_id": async_id}}))
        """,
        qstash_stub,
    )
    assert found["before"] == []
    assert found["id"] == found["async_id"] == "msg_benchmark"
    assert {"qstash", "httpx", "httpcore"} <= set(found["after"])  # type: ignore[arg-type]


#: What django.setup() with the three apps must not import: the publish pipeline and what it
#: brings (the SDK, httpx, the async client), the eager runner and the canvas, the results app's
#: claim strategies and locks, the schedules app's cron libraries, and the database backend
#: (models that declare their table name do not need it to work the name out). Nor what the
#: hook API re-exports that setup does not use (the apps import ``hooks``, which loads each name
#: when it is first read): the result-store protocol and its dataclasses (registering a store
#: needs only ``store_registry``), the prepared message, the SDK's error translation and the
#: signature check, and ``dataclasses`` itself.
NOT_AT_SETUP = (
    *HEAVY,
    "django_qstash.pipeline",
    "django_qstash.publisher",
    "django_qstash.envelope",
    "django_qstash.aio",
    "django_qstash.canvas",
    "django_qstash.eager",
    "django_qstash.runner",
    "django_qstash.result",
    "django_qstash.store",
    "django_qstash.messages",
    "django_qstash.sdk_errors",
    "django_qstash.signing",
    "dataclasses",
    "django_qstash.results.claims.base",
    "django_qstash.results.claims.lock",
    "django_qstash.results.locks",
    "croniter",
    "cron_descriptor",
    "dateutil",
    "django.db.backends.base.base",
    # Django 5.2 imports it with django.db.models itself (lookups import the base operations).
    *(("sqlparse",) if django.VERSION >= (6, 0) else ()),
)


def test_setup_with_the_three_apps_imports_only_what_defining_tasks_and_models_needs():
    found = run_in_fresh_process(
        f"""
        import json, sys
        import django
        django.setup()
        from django_qstash import hooks
        loaded = [m for m in {NOT_AT_SETUP!r} if m in sys.modules]
        # The apps are set up for real: tasks registered, the result store in place.
        print(json.dumps({{"loaded": loaded, "tasks": sorted(hooks.registered_tasks()),
                           "store": repr(hooks.get_result_store())}}))
        """,
        "http://127.0.0.1:9",
        settings="benchmarks.settings_apps",
    )
    assert found["loaded"] == []
    assert found["store"] == "<DatabaseResultStore>"
    assert found["tasks"], "the results app's tasks module was discovered"


def test_a_sync_publish_loads_neither_the_async_client_nor_the_eager_runner(qstash_stub):
    found = run_in_fresh_process(
        """
        import json, sys
        import django
        django.setup()
        from benchmarks.startup_tasks import startup_noop
        message_id = startup_noop.delay(1).id
        loaded = [m for m in ("django_qstash.aio", "django_qstash.runner") if m in sys.modules]
        print(json.dumps({"id": message_id, "loaded": loaded}))
        """,
        qstash_stub,
    )
    assert found == {"id": "msg_benchmark", "loaded": []}


def test_clients_are_the_sdks_own():
    from django.core.exceptions import ImproperlyConfigured
    from qstash import AsyncQStash, QStash

    from django_qstash import sdk

    key = ("token", "http://127.0.0.1:9", 2)
    sync_client = sdk.client_from_settings("sync", key)
    async_client = sdk.client_from_settings("async", key)
    assert type(sync_client) is QStash
    assert type(async_client) is AsyncQStash
    assert sync_client.http._base_url == async_client.http._base_url == "http://127.0.0.1:9"
    sync_client.http._client.close()
    with pytest.raises(ImproperlyConfigured, match="QSTASH_TOKEN is not set"):
        sdk.client_from_settings("sync", (None, "http://127.0.0.1:9", 0))


def test_a_canvas_in_dict_form_met_before_the_canvas_was_imported_is_still_a_canvas():
    # Setup leaves the canvas unloaded; a chain or group arriving in its dict form (a retry's
    # link, a schedule's options) loads it, instead of turning into a plain signature.
    found = run_in_fresh_process(
        """
        import json, sys
        import django
        django.setup()
        from django_qstash.signatures import as_signature
        before = "django_qstash.canvas" in sys.modules
        step = {"task": "benchmarks.noop", "args": [1], "kwargs": {}, "options": {}}
        kinds = [
            type(as_signature({"task": f"celery.{kind}", "args": [], "options": {},
                               "kwargs": {"tasks": [step, step]}, "subtask_type": kind})).__name__
            for kind in ("chain", "group")
        ]
        print(json.dumps({"before": before, "kinds": kinds}))
        """,
        "http://127.0.0.1:9",
        settings="benchmarks.settings_apps",
    )
    assert found == {"before": False, "kinds": ["chain", "group"]}
