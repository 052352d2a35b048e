"""A task found by its module path, and only there; what a message may never make the webhook do;
and the runner surviving ``SystemExit`` for ``@shared_task`` too (live, gunicorn, two workers)."""

from __future__ import annotations

import json
import sys
import uuid

import httpx
import pytest

from django_qstash.registry import registry
from tests.apps.djangotasks import tasks
from tests.support.devserver import wait_until
from tests.support.signing import make_token
from tests.tasks_backend.contract import child_pids

UNIMPORTED = "tests.apps.djangotasks.unimported"
HELPERS = "tests.apps.djangotasks.helpers"
OUTSIDE = "tests.tasks_backend.outside_installed_apps"


def envelope(name: str, *args: object) -> bytes:
    return json.dumps({"v": 1, "task": name, "args": list(args), "kwargs": {}}).encode()


@pytest.fixture
def forget_unimported():
    """This process imported nothing of the lazily found modules before the test, nor keeps it."""
    saved = {name: sys.modules.pop(name) for name in (UNIMPORTED, HELPERS) if name in sys.modules}
    names = [name for name in registry if name.startswith(UNIMPORTED)]
    kept = {name: registry.get(name) for name in names}
    for name in names:
        registry.unregister(name)
    try:
        yield
    finally:
        for name in (UNIMPORTED, HELPERS):
            sys.modules.pop(name, None)
        sys.modules.update(saved)
        for task in kept.values():
            registry.register(task)


# ------------------------------------------------------------------ in this process


@pytest.mark.parametrize(
    "name",
    [
        f"{OUTSIDE}.run",  # a module outside every installed app
        "os.system",  # the standard library
        "subprocess.run",
        f"{HELPERS}.remove_everything",  # a plain function in an installed app
        "tests.apps.djangotasks.tasks.not_a_task",  # a plain function in an imported tasks module
        "tests.apps.djangotasks.tasks.sys.exit",  # an attribute of an attribute
        "tests.apps.djangotasks.tasks.add.func",
        "tests.apps.djangotasks.tasks",  # a module, not an attribute
        "tests.apps.djangotasks..tasks.add",
        "tests.apps.djangotasks.tasks.__builtins__",
        "tests.apps.djangotasks.tasks._private",
    ],
)
def test_a_path_that_is_not_a_task_of_an_installed_app_is_refused(
    name, deliver_body, no_result_store, forget_unimported
):
    deliver_body(envelope("warm.up"))  # the first request imports Django's middleware
    before = set(sys.modules)
    delivered = deliver_body(envelope(name))
    assert delivered.status_code == 489
    assert delivered.body["status"] == "unknown_task"
    assert name in delivered.body["error"]
    assert OUTSIDE not in sys.modules
    if not name.startswith(HELPERS):
        assert set(sys.modules) == before  # nothing imported to find out


def test_a_django_task_is_found_by_its_module_path(
    deliver_body, no_result_store, forget_unimported
):
    name = f"{UNIMPORTED}.multiply"
    assert name not in registry
    delivered = deliver_body(envelope(name, 6, 7))
    assert (delivered.status_code, delivered.body["result"]) == (200, 42)
    assert UNIMPORTED in sys.modules
    assert name in registry  # registered as its module defined it: the next one is a lookup


def test_a_shared_task_is_found_by_its_module_path(
    deliver_body, no_result_store, forget_unimported
):
    delivered = deliver_body(envelope(f"{UNIMPORTED}.shared_multiply", 3, 5))
    assert (delivered.status_code, delivered.body["result"]) == (200, 15)


def test_a_module_that_fails_to_import_is_refused_and_logged(deliver_body, no_result_store, caplog):
    name = "tests.apps.djangotasks.broken.anything"
    delivered = deliver_body(envelope(name))
    assert (delivered.status_code, delivered.body["status"]) == (489, "unknown_task")
    assert "could not import tests.apps.djangotasks.broken" in caplog.text
    assert "a_module_that_is_not_installed" in caplog.text


def test_a_missing_module_is_refused_quietly(deliver_body, no_result_store, caplog):
    delivered = deliver_body(envelope("tests.apps.djangotasks.nowhere.anything"))
    assert delivered.status_code == 489
    assert "could not import" not in caplog.text


def test_a_task_of_another_backend_is_not_run_by_path(deliver_body, no_result_store):
    from django.test import override_settings

    # The task at that path belongs to an ImmediateBackend alias: not this backend's to run.
    from tests.tasks_backend.contract import IMMEDIATE

    with override_settings(
        TASKS={
            "default": {"BACKEND": "django_qstash.backends.QStashBackend"},
            "other": {"BACKEND": IMMEDIATE},
        }
    ):
        from tests.apps.djangotasks import other_backend

        name = other_backend.elsewhere.module_path
        delivered = deliver_body(envelope(name))
    assert delivered.status_code == 489
    assert delivered.body["status"] == "unknown_task"


def test_keyboard_interrupt_leaves_the_webhook(deliver_body, no_result_store):
    # As Django's ImmediateBackend: an interrupt is the process's, not the task's to record.
    with pytest.raises(KeyboardInterrupt):
        deliver_body(envelope(tasks.interrupt.module_path))


# ------------------------------------------------------------------ live: gunicorn, two workers


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_live_webhook_refuses_paths_outside_installed_apps(contract_server):
    keys = contract_server.devserver.keys()
    for name in (f"{OUTSIDE}.run", "os.system", f"{HELPERS}.remove_everything"):
        body = envelope(name)
        response = httpx.post(
            contract_server.webhook_url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "Upstash-Signature": make_token(
                    body, contract_server.webhook_url, key=keys["current"]
                ),
                "Upstash-Message-Id": f"msg_{uuid.uuid4().hex}",
            },
            trust_env=False,
        )
        assert response.status_code == 489, response.text
        assert response.headers["Upstash-NonRetryable-Error"] == "true"
        assert response.json()["status"] == "unknown_task"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_shared_task_raising_system_exit_fails_and_the_worker_keeps_serving(
    contract_server, publish_via
):
    if contract_server.process is None or contract_server.process.poll() is not None:
        contract_server.start()
    publish_via(contract_server)
    assert contract_server.process is not None
    workers = child_pids(contract_server.process.pid)
    result = tasks.shared_exit.apply_async(args=[1], max_retries=0)
    wait_until(result.ready, timeout=20, message="the shared task's result")
    assert result.status == "FAILURE"
    assert "SystemExit: 1" in (result.traceback or "")
    following = tasks.shared_pid.apply_async(max_retries=0)
    assert following.get(timeout=20) in workers
    assert child_pids(contract_server.process.pid) == workers
