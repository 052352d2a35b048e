"""A tasks module written as Celery code is written runs with only its import changed.

``example/celery_style.py`` imports ``shared_task``, ``chain`` and ``group`` from django-qstash.
The same source with ``from celery import chain, group, shared_task`` instead is loaded here
under a real Celery app; one scenario drives both, eagerly (DJANGO_QSTASH_ALWAYS_EAGER for
django-qstash, task_always_eager for Celery), and must see the same results. The wire checks
below publish the same module's tasks to the recorder; the end-to-end run is in
test_end_to_end.py.
"""

from __future__ import annotations

import json
import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from example import celery_style
from example.models import TaskRun

pytestmark = pytest.mark.django_db

OUR_IMPORTS = (
    "from django_qstash import shared_task\nfrom django_qstash.canvas import chain, group\n"
)
CELERY_IMPORTS = "from celery import chain, group, shared_task\n"


def runs(task: str, key: str) -> list[Any]:
    return list(
        TaskRun.objects.filter(task=f"celery_style.{task}", key=key).values_list("value", flat=True)
    )


def scenario(module: Any, capture_on_commit: Any) -> dict[str, Any]:
    """Drive the module as an application (or its tests) would; return what happened."""
    key = uuid.uuid4().hex[:8]
    seen: dict[str, Any] = {}

    result = module.fetch_page.delay(f"{key}-retry", 2)
    seen["manual retry"] = (result.status, result.get())
    ids = {run["id"] for run in runs("fetch_page", f"{key}-retry")}
    seen["task id stable across retries"] = len(ids) == 1 and result.id in ids

    result = module.fetch_page.delay(f"{key}-exhausted", 10)
    seen["past max_retries"] = (result.status, repr(result.result))
    seen["attempts before giving up"] = len(runs("fetch_page", f"{key}-exhausted"))

    result = module.sync_partner.delay(f"{key}-auto", 2)
    seen["autoretry"] = (result.status, result.get(), runs("sync_partner", f"{key}-auto"))

    result = module.import_file.delay(f"{key}-unlisted")
    seen["unlisted exception"] = (result.status, type(result.result).__name__)
    seen["unlisted attempts"] = len(runs("import_file", f"{key}-unlisted"))

    result = module.send_email.apply_async((f"{key}-mail", "a@example.com"), countdown=60)
    seen["queue + countdown"] = result.get()

    result = module.audit.apply_async((f"{key}-audit",), headers={"tenant": "acme"})
    seen["headers"] = result.get()

    result = module.arithmetic_chain(f"{key}-chain")
    seen["chain"] = (result.get(), runs("store", f"{key}-chain"))

    result = module.fan_out(f"{key}-group", 3)
    seen["group"] = (len(result.results), sorted(runs("store", f"{key}-group")))

    result = module.add.apply_async((2, 3), link=module.store.s(f"{key}-link"))
    seen["link"] = (result.get(), runs("store", f"{key}-link"))

    result = module.import_file.apply_async(
        (f"{key}-errback",), link_error=module.report_failure.s()
    )
    seen["link_error"] = len(runs("report_failure", result.id))

    with capture_on_commit(execute=True):
        module.place_order(f"{key}-order", 7)
        seen["before commit"] = runs("notify", f"{key}-order")
    seen["after commit"] = runs("notify", f"{key}-order")
    return seen


EXPECTED = {
    "manual retry": ("SUCCESS", {"attempts": 3, "retries": 2}),
    "task id stable across retries": True,
    "past max_retries": ("FAILURE", "TemporaryError('attempt 4 failed')"),
    "attempts before giving up": 4,
    "autoretry": ("SUCCESS", 3, [{"retries": 0}, {"retries": 1}, {"retries": 2}]),
    "unlisted exception": ("FAILURE", "ValueError"),
    "unlisted attempts": 1,
    "queue + countdown": "sent to a@example.com",
    "headers": "acme",
    "chain": (None, [32]),
    "group": (3, [0, 1, 2]),
    "link": (5, [5]),
    "link_error": 1,
    "before commit": [],
    "after commit": [{"order": 7}],
}


@pytest.fixture
def celery_module() -> Iterator[types.ModuleType]:
    """example/celery_style.py with Celery's imports, its tasks registered with a Celery app."""
    from celery import Celery

    app = Celery("celery_compat", set_as_current=True)
    app.conf.task_always_eager = True
    source = Path(celery_style.__file__).read_text()
    assert OUR_IMPORTS in source
    module = types.ModuleType("celery_style_under_celery")
    module.__file__ = celery_style.__file__
    sys.modules[module.__name__] = module
    try:
        code = compile(source.replace(OUR_IMPORTS, CELERY_IMPORTS), module.__file__, "exec")
        exec(code, vars(module))
        yield module
    finally:
        del sys.modules[module.__name__]
        app.close()


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_the_module_runs_eagerly_under_django_qstash(django_capture_on_commit_callbacks):
    assert scenario(celery_style, django_capture_on_commit_callbacks) == EXPECTED


def test_the_same_source_with_celery_imports_gives_the_same_results(
    celery_module, django_capture_on_commit_callbacks
):
    from celery import Task as CeleryTask

    assert isinstance(celery_module.add._get_current_object(), CeleryTask)
    assert scenario(celery_module, django_capture_on_commit_callbacks) == EXPECTED


# ---------------------------------------------------------------------------------- the wire

WEBHOOK = "http://127.0.0.1:8000/qstash/webhook/"


def test_autoretry_options_become_qstash_retries(qstash):
    celery_style.sync_partner.delay("k", 0)
    (request,) = qstash.requests
    assert request.headers["Upstash-Retries"] == "5"  # retry_kwargs={"max_retries": 5}
    # retry_backoff=True, retry_backoff_max=60, retry_jitter=True: a jitter factor per message.
    expression = request.headers["Upstash-Retry-Delay"]
    assert expression.startswith("floor(0.") or expression.startswith("floor(1.")
    assert expression.endswith(" * min(60000, 1000 * pow(2, retried)))")
    assert request.json()["options"] == {"max_retries": 5}


def test_queue_and_time_limit(qstash):
    celery_style.send_email.delay("k", "a@example.com")
    (request,) = qstash.requests
    assert request.path == f"/v2/enqueue/emails/{WEBHOOK}"
    assert request.headers["Upstash-Timeout"] == "30s"


def test_apply_async_countdown_and_headers(qstash):
    celery_style.audit.apply_async(("k",), headers={"tenant": "acme"}, countdown=10)
    (request,) = qstash.requests
    assert request.headers["Upstash-Delay"] == "10s"
    assert {k.lower(): v for k, v in request.headers.items()}["upstash-forward-tenant"] == "acme"
    options = request.json()["options"]
    assert options["headers"] == {"tenant": "acme"}
    assert "eta" in options


def test_chain_publishes_its_first_step_linked_to_the_rest(qstash):
    result = celery_style.arithmetic_chain("k")
    (request,) = qstash.requests
    body = request.json()
    assert (body["task"], body["args"]) == ("example.celery_style.add", [2, 2])
    (link,) = body["options"]["link"]
    assert link["task"] == "celery.chain"
    steps = link["kwargs"]["tasks"]
    assert [step["task"] for step in steps] == [
        "example.celery_style.mul",
        "example.celery_style.store",
    ]
    # As Celery: the last step's result, with every step's id assigned at publish.
    assert result.id == steps[1]["options"]["task_id"]
    assert result.parent.id == steps[0]["options"]["task_id"]
    assert result.parent.parent.id == body["options"]["task_id"]
    assert result.parent.parent.parent is None
    assert request.headers["Upstash-Deduplication-Id"] == body["options"]["task_id"]
    assert request.headers["Upstash-Callback"] == f"{WEBHOOK}?django_qstash=link"


def test_group_is_one_batch_request(qstash):
    qstash.answer = (200, [{"messageId": f"msg_{n}"} for n in range(4)], {})
    result = celery_style.fan_out("k", 4)
    (request,) = qstash.requests
    assert request.path == "/v2/batch"
    items = request.json()
    assert [item["destination"] for item in items] == [WEBHOOK] * 4
    bodies = [json.loads(item["body"]) for item in items]
    assert [body["args"] for body in bodies] == [[n, "k"] for n in range(4)]
    assert {body["options"]["group_id"] for body in bodies} == {result.id}
    assert [r.id for r in result] == ["msg_0", "msg_1", "msg_2", "msg_3"]


def test_delay_on_commit_publishes_after_the_commit(qstash, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        celery_style.place_order("k", 1)
        assert qstash.requests == []
    assert len(callbacks) == 1
    (request,) = qstash.requests
    assert request.json()["args"] == ["k", 1]
