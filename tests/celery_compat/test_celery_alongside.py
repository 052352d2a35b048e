"""Celery installed alongside: ``@shared_task`` (Celery) and ``@stashed_task`` in one module,
each task handled by its own system and following its own eager setting."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from django_qstash import AsyncResult, EagerResult, eager, task
from django_qstash.registry import registry
from tests.celery_compat import mixed_tasks
from tests.celery_compat.conftest import deliver

CELERY_NAME = "tests.celery_compat.mixed_tasks.celery_add"
QSTASH_NAME = "tests.celery_compat.mixed_tasks.qstash_add"


def make_app(*, eager: bool) -> Any:
    from celery import Celery

    app = Celery("alongside", broker="memory://", set_as_current=True)
    app.conf.task_always_eager = eager
    app.finalize()
    return app


@pytest.fixture(autouse=True)
def clear_calls() -> Iterator[None]:
    mixed_tasks.calls.clear()
    yield
    mixed_tasks.calls.clear()


def test_each_decorator_registers_with_its_own_system():
    app = make_app(eager=True)
    try:
        assert CELERY_NAME in app.tasks
        assert QSTASH_NAME not in app.tasks
        assert QSTASH_NAME in registry
        assert CELERY_NAME not in registry
        assert isinstance(mixed_tasks.qstash_add, task.Task)
    finally:
        app.close()


@pytest.mark.django_db
def test_celery_runs_its_task_and_django_qstash_publishes_its_own(qstash):
    app = make_app(eager=True)
    try:
        celery_result = mixed_tasks.celery_add.delay(1, 2)
        assert celery_result.get() == 3  # Celery's eager mode ran it here
        assert type(celery_result).__module__.startswith("celery.")
        assert qstash.requests == []

        ours = mixed_tasks.qstash_add.delay(1, 2)
        assert isinstance(ours, AsyncResult)
        (request,) = qstash.requests  # published to QStash, not run
        assert request.json()["task"] == QSTASH_NAME
        assert mixed_tasks.calls == ["celery_add"]
    finally:
        app.close()


@pytest.mark.django_db
@override_settings(DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_and_vice_versa_each_follows_its_own_eager_setting(qstash):
    app = make_app(eager=False)  # Celery sends to its (in-memory) broker
    try:
        celery_result = mixed_tasks.celery_add.delay(2, 3)
        assert type(celery_result).__name__ == "AsyncResult"  # queued in Celery's broker
        assert type(celery_result).__module__.startswith("celery.")
        ours = mixed_tasks.qstash_add.delay(2, 3)
        assert isinstance(ours, EagerResult)
        assert ours.get() == 5
        assert mixed_tasks.calls == ["qstash_add"]
        assert qstash.requests == []
    finally:
        app.close()


def test_the_webhook_never_runs_a_celery_task(no_result_store):
    response = deliver({"v": 1, "task": CELERY_NAME, "args": [1, 2], "kwargs": {}})
    assert response.status_code == 489
    assert response.json()["status"] == "unknown_task"
    response = deliver({"v": 1, "task": QSTASH_NAME, "args": [1, 2], "kwargs": {}})
    assert response.json()["result"] == 3
    assert mixed_tasks.calls == ["qstash_add"]


@pytest.mark.django_db
@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_celery_task_always_eager_is_not_read_and_says_so(qstash, monkeypatch):
    monkeypatch.setattr(eager, "_celery_eager_setting_checked", False)
    with pytest.warns(UserWarning, match="set DJANGO_QSTASH_ALWAYS_EAGER = True"):
        mixed_tasks.qstash_add.delay(1, 1)
    assert len(qstash.requests) == 1  # still published: the setting is django-qstash's own
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mixed_tasks.qstash_add.delay(1, 1)  # said once per process


@pytest.mark.django_db
@override_settings(CELERY_TASK_ALWAYS_EAGER=True, DJANGO_QSTASH_ALWAYS_EAGER=True)
def test_the_move_is_one_setting(qstash, monkeypatch):
    monkeypatch.setattr(eager, "_celery_eager_setting_checked", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mixed_tasks.qstash_add.delay(1, 1).get() == 2
    assert qstash.requests == []
