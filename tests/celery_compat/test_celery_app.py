"""A module written against ``app = Celery(...)`` / ``@app.task`` / ``current_app.task`` runs with
only its imports changed (``example/celery_app_style.py``).

The same source with Celery's imports runs under a real Celery app in eager mode and must give
the same results; then the module runs over the real path: the dev server delivers to a live
Django server whose database this test process shares, so ``.get()`` reads real results.
"""

from __future__ import annotations

import datetime
import logging
import sys
import types
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_qstash import Celery, current_app
from django_qstash.exceptions import CeleryOptionIgnored, IgnoredOptionWarning
from example import celery_app_style
from example.models import TaskRun

pytestmark = pytest.mark.django_db

OUR_IMPORTS = (
    "from django_qstash import Celery, chain, chord, current_app, get_task_logger, group\n"
)
CELERY_IMPORTS = (
    "from celery import Celery, chain, chord, current_app, group\n"
    "from celery.utils.log import get_task_logger\n"
)


def runs(task: str, key: str) -> list[Any]:
    return list(
        TaskRun.objects.filter(task=f"celery_app.{task}", key=key)
        .order_by("pk")
        .values_list("value", flat=True)
    )


def scenario(module: Any) -> dict[str, Any]:
    """Drive the module as an application would; return what happened."""
    key = uuid.uuid4().hex[:8]
    seen: dict[str, Any] = {}
    result = module.arithmetic(1)
    steps = [result, result.parent, result.parent.parent]
    seen["chain"] = (result.get(), len({step.id for step in steps}))
    seen["chain ends"] = result.parent.parent.parent is None
    result = module.sum_of_squares(f"{key}-chord", 4)
    seen["chord"] = (result.get(), runs("total", f"{key}-chord"))
    result = module.sum_of_squares_piped(f"{key}-piped", 3)
    seen["group | task"] = (result.get(), runs("total", f"{key}-piped"))
    seen["attributes"] = (
        module.total.queue,
        module.square.acks_late,
        module.square.delivery_mode,
        module.square.x_team,
    )
    seen["square ran with"] = runs("square", f"{key}-chord")[0]
    seen["current_app"] = module.current_app.main == module.app.main
    seen["conf"] = module.app.conf.task_always_eager
    return seen


EXPECTED = {
    "chain": (16, 3),
    "chain ends": True,
    "chord": (14, [[0, 1, 4, 9]]),
    "group | task": (5, [[0, 1, 4]]),
    "attributes": ("reports", True, 2, "billing"),
    "square ran with": {"x": 0, "team": "billing"},
    "current_app": True,
    "conf": True,
}


@pytest.fixture
def celery_module() -> Iterator[types.ModuleType]:
    """example/celery_app_style.py with Celery's imports: its own Celery app, eager."""
    source = Path(celery_app_style.__file__).read_text()
    assert OUR_IMPORTS in source
    module = types.ModuleType("example.celery_app_under_celery")
    module.__file__ = celery_app_style.__file__
    sys.modules[module.__name__] = module
    try:
        code = compile(source.replace(OUR_IMPORTS, CELERY_IMPORTS), module.__file__, "exec")
        exec(code, vars(module))
        module.app.set_current()
        yield module
    finally:
        del sys.modules[module.__name__]
        module.app.close()


@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True, CELERY_TASK_ALWAYS_EAGER=True)
def test_the_app_module_runs_eagerly_under_django_qstash():
    assert scenario(celery_app_style) == EXPECTED


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_the_same_source_with_celery_imports_gives_the_same_results(celery_module):
    from celery import Task as CeleryTask

    assert isinstance(celery_module.add, CeleryTask)
    assert scenario(celery_module) == EXPECTED


# ---------------------------------------------------------------------------------- the app


def test_current_app_is_the_app_last_created_and_its_conf_is_read_lazily():
    app = Celery("proj", broker="redis://localhost:6379/0")
    assert current_app._get_current_object() is app
    assert app.conf.broker == "redis://localhost:6379/0"  # kept, means nothing here
    with override_settings(CELERY_RESULT_BACKEND="django-db", CELERY_TIMEZONE="UTC"):
        app.config_from_object("django.conf:settings", namespace="CELERY")
        # Read on first use, so config_from_object() at import never needs settings.
        assert app.conf.result_backend == "django-db"
        assert app.conf["timezone"] == "UTC"
    assert app.conf.broker == "redis://localhost:6379/0"
    with pytest.raises(AttributeError, match="no Celery setting 'beat_schedule'"):
        app.conf.beat_schedule  # noqa: B018
    celery_app_style.app.set_default()
    assert current_app.main == "example"


def test_app_task_is_shared_task_with_the_apps_base_class():
    class Audited(current_app.Task):
        audited = True

    app = Celery("proj", task_cls=Audited, set_as_current=False)

    @app.task(name="tests.celery_app.audited_add", shared=False, lazy=True)
    def audited_add(x, y):
        return x + y

    assert isinstance(audited_add, Audited)
    assert audited_add(2, 3) == 5
    assert app.tasks[audited_add.name] is audited_add
    with pytest.raises(TypeError, match="options as keywords"):
        app.task(audited_add.run, audited_add.run)


def test_send_task_of_an_unknown_name_raises_before_publishing(qstash):
    from django_qstash.exceptions import TaskNotRegistered

    with pytest.raises(TaskNotRegistered):
        celery_app_style.app.send_task("proj.tasks.nope", args=(1,))
    assert qstash.requests == []


def test_autodiscover_tasks_imports_the_packages_task_modules():
    from django_qstash.discovery import utils

    before = list(utils.extra_task_modules)
    try:
        Celery("proj", set_as_current=False).autodiscover_tasks(
            lambda: ["tests.apps.elsewhere", "tests.celery_compat"], related_name="mixed_tasks"
        )
        assert "tests.celery_compat.mixed_tasks" in sys.modules
        assert "tests.apps.elsewhere.mixed_tasks" in utils.extra_task_modules  # skipped: absent
    finally:
        utils.extra_task_modules[:] = before


# ---------------------------------------------------------------------------------- tolerance


def test_unknown_and_broker_decorator_options_warn_once_each_and_become_attributes():
    assert CeleryOptionIgnored is IgnoredOptionWarning
    app = Celery("proj", set_as_current=False)
    with pytest.warns(CeleryOptionIgnored) as caught:

        @app.task(
            name="tests.celery_app.tolerant",
            delivery_mode=2,
            x_team="billing",
            routing_key="fast",
            queue="reports",
        )
        def tolerant(x):
            return x

    warned = sorted(str(w.message).split("Celery option ")[1].split("=")[0] for w in caught)
    assert warned == ["delivery_mode", "routing_key", "x_team"]
    assert (tolerant.delivery_mode, tolerant.x_team, tolerant.routing_key) == (2, "billing", "fast")
    assert tolerant.queue == "reports"
    assert tolerant.rate_limit is None


def test_the_warning_can_be_made_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CeleryOptionIgnored)
        with pytest.raises(CeleryOptionIgnored, match="mandatory"):
            current_app.task(name="tests.celery_app.strict", mandatory=True)(lambda: None)


def test_broker_call_options_are_ignored_with_one_warning_and_typos_still_raise(qstash):
    with pytest.warns(CeleryOptionIgnored) as caught:
        celery_app_style.add.apply_async(
            (1, 2), priority=3, routing_key="x", serializer="json", delivery_mode=2, mandatory=True
        )
    assert sorted(str(w.message).split("option ")[1].split("=")[0] for w in caught) == [
        "delivery_mode",
        "mandatory",
        "priority",
        "routing_key",
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        celery_app_style.add.apply_async((1, 2), priority=3)  # once per task and option
    with pytest.raises(TypeError, match="'countdwn'"):
        celery_app_style.add.apply_async((1, 2), countdwn=5)
    assert len(qstash.requests) == 2


def test_expiration_means_expires(qstash):
    celery_app_style.add.apply_async((1, 2), expiration=60)
    celery_app_style.add.apply_async((1, 2), expires=60)
    first, second = (
        datetime.datetime.fromisoformat(request.json()["options"]["expires"])
        for request in qstash.requests
    )
    assert abs((first - second).total_seconds()) < 5


def test_get_task_logger_records_name_the_running_task(caplog):
    from django_qstash import get_task_logger

    logger = get_task_logger("tests.celery_app.logger")
    assert logger.parent is logging.getLogger("django_qstash.task")
    assert celery_app_style.square.get_logger().name == celery_app_style.square.name
    with caplog.at_level(logging.INFO):
        logger.info("outside")
        with override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True):
            result = celery_app_style.total.apply(([1], "log"), task_id="tid-1")
    assert result.get() == 1
    outside = next(r for r in caplog.records if r.getMessage() == "outside")
    inside = next(r for r in caplog.records if r.getMessage() == "total of 1 numbers")
    assert (outside.task_id, outside.task_name) == ("???", "???")
    assert (inside.task_id, inside.task_name) == ("tid-1", celery_app_style.total.name)


def test_exception_names_people_catch():
    from django_qstash import exceptions
    from django_qstash.results.exceptions import TaskExpired

    assert exceptions.TimeoutError is exceptions.TaskTimeout
    assert issubclass(TaskExpired, exceptions.TaskRevokedError)
