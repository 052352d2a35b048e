"""The dev server's banner, as a new user reads it: it names every setting a project needs, and
its database does not land in the directory it was started from (a project's ``git add .``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import override_settings

from django_qstash.checks import check_deploy_settings, check_settings

#: What a project must set to publish and receive (WEBHOOK_PATH has a working default).
NEEDED = {
    "QSTASH_URL",
    "QSTASH_TOKEN",
    "QSTASH_CURRENT_SIGNING_KEY",
    "QSTASH_NEXT_SIGNING_KEY",
    "DJANGO_QSTASH_DOMAIN",
    "DJANGO_QSTASH_FORCE_HTTPS",
}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.fixture
def started_in_a_project(tmp_path: Path):
    """``python -m django_qstash.devserver`` started from a project directory, no --db."""
    project = tmp_path / "project"
    project.mkdir()
    state = tmp_path / "state"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QSTASH_", "PYTEST_"))
    }
    env.update(XDG_STATE_HOME=str(state), PYTHONUNBUFFERED="1")
    log = tmp_path / "banner.txt"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "django_qstash.devserver", "--port", "0"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while "python manage.py runserver" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield log.read_text(), project, state
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def printed_settings(banner: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)$", banner, re.MULTILINE))


def test_the_banner_names_every_setting_a_project_needs(started_in_a_project) -> None:
    banner, _, _ = started_in_a_project
    values = printed_settings(banner)
    assert set(values) == NEEDED, banner
    assert values["DJANGO_QSTASH_DOMAIN"] == "http://127.0.0.1:8000"
    # As settings, they pass every check, --deploy included (FORCE_HTTPS as a .env file gives it).
    settings = {
        **values,
        "DJANGO_QSTASH_FORCE_HTTPS": values["DJANGO_QSTASH_FORCE_HTTPS"] == "True",
    }
    with override_settings(**settings):
        assert check_settings() == []
        assert check_deploy_settings() == []
    # The command it prints starts the server DJANGO_QSTASH_DOMAIN names (tests/docs/
    # test_quick_start.py runs it as printed).
    assert "  python manage.py runserver 127.0.0.1:8000" in banner.splitlines()


def test_the_database_is_not_written_where_it_was_started(started_in_a_project) -> None:
    banner, project, state = started_in_a_project
    assert list(project.iterdir()) == []
    database = state / "django-qstash" / "qstash-dev.db"  # --port 0: no fixed port to name it by
    assert database.exists()
    assert f"database {database}" in banner
