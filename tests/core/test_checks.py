from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import ERROR, WARNING
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_qstash.checks import check_deploy_settings, check_settings, check_webhook_route

SAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "sample_project"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_sample_settings_pass():
    assert check_settings() == []
    assert check_webhook_route() == []


@override_settings(QSTASH_TOKEN=None)
def test_missing_token_is_a_warning_w002_and_e001_under_deploy():
    (warning,) = check_settings()
    assert (warning.id, warning.level) == ("django_qstash.W002", WARNING)
    assert "QSTASH_TOKEN" in warning.hint
    (error,) = check_deploy_settings()
    assert (error.id, error.level) == ("django_qstash.E001", ERROR)
    assert error.msg == warning.msg


@override_settings(QSTASH_NEXT_SIGNING_KEY="")
def test_missing_signing_key_is_w003_and_e002_under_deploy():
    (warning,) = check_settings()
    assert warning.id == "django_qstash.W003"
    assert "QSTASH_NEXT_SIGNING_KEY is not set" in warning.msg
    assert ids(check_deploy_settings()) == ["django_qstash.E002"]


@override_settings(QSTASH_CURRENT_SIGNING_KEY=None, QSTASH_NEXT_SIGNING_KEY=None)
def test_both_keys_missing_are_named():
    (warning,) = check_settings()
    assert "QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY are not set" in warning.msg


@override_settings(DJANGO_QSTASH_DOMAIN=None)
def test_missing_domain_is_w004_and_e003_under_deploy():
    assert ids(check_settings()) == ["django_qstash.W004"]
    assert ids(check_deploy_settings()) == ["django_qstash.E003"]


def test_the_deploy_check_passes_with_every_setting():
    assert check_deploy_settings() == []


@override_settings(QSTASH_TOKEN=None)
def test_without_a_token_the_first_publish_says_what_to_do():
    from example.tasks import math_add_task

    with pytest.raises(ImproperlyConfigured, match="QSTASH_TOKEN is not set") as info:
        math_add_task.delay(1, 2)
    assert "python -m django_qstash.devserver" in str(info.value)
    assert "Upstash console" in str(info.value)


def manage(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    """The sample project's manage.py in a fresh process with no QStash secrets at all, as in a
    Docker build or a CI job without them."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_")) and key != "DATABASE_URL"
    }
    env.update(
        QSTASH_TOKEN="",
        QSTASH_CURRENT_SIGNING_KEY="",
        QSTASH_NEXT_SIGNING_KEY="",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=SAMPLE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_migrate_runs_without_secrets_and_check_deploy_refuses(tmp_path):
    migrate = manage(tmp_path, "migrate", "--no-input", "-v", "0")
    assert migrate.returncode == 0, migrate.stderr
    assert "django_qstash.W002" in migrate.stderr
    assert "django_qstash.W003" in migrate.stderr
    deploy = manage(tmp_path, "check", "--deploy", "--fail-level", "ERROR")
    assert deploy.returncode != 0
    assert "django_qstash.E001" in deploy.stderr
    assert "django_qstash.E002" in deploy.stderr


@pytest.mark.parametrize(
    "domain", ["example.com", "ftp://example.com", "https://example.com/path", "https://"]
)
def test_a_domain_that_is_not_an_absolute_origin_is_e004(domain):
    with override_settings(DJANGO_QSTASH_DOMAIN=domain):
        assert ids(check_settings()) == ["django_qstash.E004"]


@override_settings(DJANGO_QSTASH_DOMAIN="http://example.com", DJANGO_QSTASH_FORCE_HTTPS=True)
def test_http_domain_with_force_https_is_w001():
    assert ids(check_settings()) == ["django_qstash.W001"]


@override_settings(DJANGO_QSTASH_WEBHOOK_PATH="qstash/webhook/")
def test_a_relative_webhook_path_is_e005():
    assert ids(check_settings()) == ["django_qstash.E005"]
    assert check_webhook_route() == []


@override_settings(DJANGO_QSTASH_WEBHOOK_PATH="/hooks/qstash/")
def test_an_unrouted_webhook_path_is_e006():
    (error,) = check_webhook_route()
    assert error.id == "django_qstash.E006"
    assert "include('django_qstash.urls')" in error.hint


@override_settings(DJANGO_QSTASH_WEBHOOK_PATH="/admin/")
def test_a_path_routed_to_another_view_is_e006():
    assert ids(check_webhook_route()) == ["django_qstash.E006"]


@pytest.mark.django_db
@override_settings(QSTASH_TOKEN=None, DJANGO_QSTASH_WEBHOOK_PATH="/nowhere/")
def test_manage_py_check_shows_them():
    with pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert "django_qstash.W002" in str(info.value)
    assert "django_qstash.E006" in str(info.value)


@pytest.mark.django_db
@override_settings(QSTASH_TOKEN=None)
def test_manage_py_check_deploy_makes_a_missing_token_an_error():
    with pytest.raises(SystemCheckError) as info:
        call_command("check", "--deploy", "--fail-level", "ERROR")
    assert "django_qstash.E001" in str(info.value)
