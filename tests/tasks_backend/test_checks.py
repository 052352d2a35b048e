"""QStashBackend.check(): misconfigurations, with stable ids, through Django's check framework."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_qstash import backend_checks
from tests.tasks_backend.conftest import QSTASH_TASKS

try:
    from django.tasks import task_backends
except ImportError:
    from django_tasks import task_backends


def configured(**params):
    return {"default": {**QSTASH_TASKS["default"], **params}}


def check_ids(**params) -> list[str]:
    with override_settings(TASKS=configured(**params)):
        return [message.id for message in task_backends["default"].check()]


def test_a_good_configuration_passes():
    assert check_ids() == []
    assert check_ids(OPTIONS={"max_retries": 3, "timeout": "30s", "get_result": True}) == []
    assert check_ids(QUEUES=[]) == []


def test_the_sample_project_configuration_passes():
    from cfehome import settings as sample

    with override_settings(TASKS=sample.TASKS):
        assert task_backends["default"].check() == []


def test_e101_the_core_app_is_not_installed(monkeypatch):
    real = backend_checks.apps.is_installed
    monkeypatch.setattr(
        backend_checks.apps, "is_installed", lambda name: name != "django_qstash" and real(name)
    )
    with override_settings(TASKS=configured(), QSTASH_TOKEN=None):
        ids = [m.id for m in task_backends["default"].check()]
    # Core's own checks are not registered then, so the backend reports them too.
    assert ids == ["django_qstash.E101", "django_qstash.W002"]


def test_e102_queue_names_qstash_cannot_use():
    with override_settings(TASKS=configured(QUEUES=["default", "bad queue", "ok.name-1_x"])):
        (error,) = task_backends["default"].check()
    assert error.id == "django_qstash.E102"
    assert "'bad queue'" in error.msg


def test_e103_unknown_options():
    with override_settings(TASKS=configured(OPTIONS={"retries": 3, "deduplication_id": "x"})):
        (error,) = task_backends["default"].check()
    assert error.id == "django_qstash.E103"
    assert "'deduplication_id', 'retries'" in error.msg


@pytest.mark.parametrize(
    "options",
    [{"max_retries": "3"}, {"timeout": -1}, {"get_result": "yes"}, {"label": 7}],
)
def test_e104_bad_option_values(options):
    assert check_ids(OPTIONS=options) == ["django_qstash.E104"]


def test_e105_results_asked_for_without_the_results_app(monkeypatch, no_result_store):
    real = backend_checks.apps.is_installed
    monkeypatch.setattr(
        backend_checks.apps,
        "is_installed",
        lambda name: name != "django_qstash.results" and real(name),
    )
    assert check_ids(OPTIONS={"get_result": True}) == ["django_qstash.E105"]
    assert check_ids(OPTIONS={"get_result": False}) == []


@pytest.mark.django_db  # Django 6.1's run_checks() includes the database checks
def test_django_runs_the_backend_checks():
    with override_settings(TASKS=configured(QUEUES=["no spaces allowed"])):
        ids = [m.id for m in run_checks()]
    assert "django_qstash.E102" in ids
