"""The results app's settings: read once through ``conf``, and checked at startup."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.test import override_settings

from django_qstash.results.checks import SETTING_IDS, check_settings
from django_qstash.results.conf import SETTINGS, conf

MALFORMED = {
    "CLAIM_MODE": ["sometimes", 3],
    "STARTED_LEASE": ["soon", -1, float("nan"), None],
    "WRITE_RETRIES": ["two", -1, 1.5j],
    "DELETE_BATCH_SIZE": [0, "many"],
    "TRACK_STARTED": ["False", 2],
    "STORE_PENDING": ["yes", None],
}


def ids(**settings: object) -> list[str]:
    with override_settings(**settings):
        return [message.id for message in check_settings()]


def test_the_defaults_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, values in MALFORMED.items() for value in values]
)
def test_each_malformed_setting_is_an_error_with_its_own_id_and_a_hint(key, value):
    name = SETTINGS[key].name
    with override_settings(**{name: value}):
        (message,) = check_settings()
        assert message.id == SETTING_IDS[key]
        assert message.is_serious()
        assert name in message.msg
        assert message.hint
        # At run time the same value is a clear error too, never a silent default.
        with pytest.raises(ImproperlyConfigured, match=name):
            getattr(conf, key)


def test_every_checked_setting_has_malformed_examples_here():
    assert set(SETTING_IDS) == set(MALFORMED)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_QSTASH_RESULTS_CLAIM_MODE", "ROW"),
        ("DJANGO_QSTASH_RESULTS_STARTED_LEASE", "30"),
        ("DJANGO_QSTASH_RESULTS_WRITE_RETRIES", 0),
        ("DJANGO_QSTASH_RESULTS_TRACK_STARTED", 1),
        ("DJANGO_QSTASH_RESULTS_STARTED_LEASE", 0),
    ],
)
def test_well_formed_values_pass(name, value):
    assert ids(**{name: value}) == []


@pytest.mark.django_db
def test_an_unknown_claim_mode_fails_manage_py_check():
    # The registered check, through the command a deploy runs (database checks left out).
    with override_settings(DJANGO_QSTASH_RESULTS_CLAIM_MODE="sometimes"):
        with pytest.raises(SystemCheckError, match=r"django_qstash_results\.E001") as info:
            call_command("check", "--fail-level", "ERROR")
    assert "'auto', 'lock', 'row'" in str(info.value)


def test_lock_mode_forced_on_a_database_without_its_own_locks_warns(monkeypatch):
    assert ids(DJANGO_QSTASH_RESULTS_CLAIM_MODE="lock") == []
    # A vendor this machine has no server of (MySQL, say): its locks would be host-wide files.
    monkeypatch.setattr(connection, "vendor", "mysql")
    assert ids(DJANGO_QSTASH_RESULTS_CLAIM_MODE="lock") == ["django_qstash_results.W001"]
    assert ids(DJANGO_QSTASH_RESULTS_CLAIM_MODE="auto") == []


def test_values_are_converted_once_and_forgotten_when_a_setting_changes():
    with override_settings(DJANGO_QSTASH_RESULTS_STARTED_LEASE="30"):
        assert conf.STARTED_LEASE == 30.0
        assert conf.__dict__["STARTED_LEASE"] == 30.0
        with override_settings(DJANGO_QSTASH_RESULTS_STARTED_LEASE=45):
            assert conf.STARTED_LEASE == 45.0
        assert conf.STARTED_LEASE == 30.0
    assert conf.STARTED_LEASE == SETTINGS["STARTED_LEASE"].default


def test_lock_mode_forced_with_djangos_connection_pool_warns(monkeypatch):
    from django.db import connections

    wrapper = connections["default"]
    monkeypatch.setattr(wrapper, "vendor", "postgresql")
    monkeypatch.setitem(wrapper.settings_dict, "OPTIONS", {**wrapper.settings_dict["OPTIONS"]})
    wrapper.settings_dict["OPTIONS"]["pool"] = True
    assert ids(DJANGO_QSTASH_RESULTS_CLAIM_MODE="lock") == ["django_qstash_results.W002"]
    assert ids(DJANGO_QSTASH_RESULTS_CLAIM_MODE="auto") == []
