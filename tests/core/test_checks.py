from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_qstash.checks import check_settings, check_webhook_route


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_sample_settings_pass():
    assert check_settings() == []
    assert check_webhook_route() == []


@override_settings(QSTASH_TOKEN=None)
def test_missing_token_is_e001():
    (error,) = check_settings()
    assert error.id == "django_qstash.E001"
    assert "QSTASH_TOKEN" in error.hint


@override_settings(QSTASH_NEXT_SIGNING_KEY="")
def test_missing_signing_key_is_e002():
    (error,) = check_settings()
    assert error.id == "django_qstash.E002"
    assert "QSTASH_NEXT_SIGNING_KEY is not set" in error.msg


@override_settings(QSTASH_CURRENT_SIGNING_KEY=None, QSTASH_NEXT_SIGNING_KEY=None)
def test_both_keys_missing_are_named():
    (error,) = check_settings()
    assert "QSTASH_CURRENT_SIGNING_KEY and QSTASH_NEXT_SIGNING_KEY are not set" in error.msg


@override_settings(DJANGO_QSTASH_DOMAIN=None)
def test_missing_domain_is_e003():
    assert ids(check_settings()) == ["django_qstash.E003"]


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
    assert "django_qstash.E001" in str(info.value)
    assert "django_qstash.E006" in str(info.value)
