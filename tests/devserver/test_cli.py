"""Starting and stopping: the banner, the flags, SIGTERM/SIGINT, and ``manage.py qstash_dev``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.test import override_settings

from django_qstash.devserver.__main__ import build_parser, config_from_args
from django_qstash.devserver.credentials import DEFAULT_CREDENTIALS, DEV_USERS
from tests.support.devserver import wait_until

SAMPLE_PROJECT = Path(__file__).resolve().parents[2] / "sample_project"


def test_defaults_are_the_official_dev_servers(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    config = config_from_args(build_parser().parse_args([]))
    # The database lives in the user's state directory, never in the current one.
    expected_db = str(tmp_path / "django-qstash" / "qstash-dev-8080.db")
    assert (config.host, config.port, config.db) == ("127.0.0.1", 8080, expected_db)
    assert config.token == DEFAULT_CREDENTIALS.token
    assert config.retry_scale == 1.0
    assert config.cron_tick is None
    # No explicit keys: keys stored by a rotation win, else user 1's.
    assert config.current_signing_key is None


def test_flags():
    config = config_from_args(
        build_parser().parse_args(
            ["--port", "0", "--fast-retries", "--cron-tick", "2", "--user", "2", "--db", ":memory:"]
        )
    )
    assert (config.port, config.retry_scale, config.cron_tick, config.db) == (
        0,
        0.001,
        2,
        ":memory:",
    )
    assert (config.token, config.current_signing_key) == (
        DEV_USERS[1].token,
        DEV_USERS[1].current_signing_key,
    )
    assert config_from_args(build_parser().parse_args(["--retry-scale", "0.5"])).retry_scale == 0.5


def _start(command: list[str], tmp_path: Path, **kwargs) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "out.log"
    process = subprocess.Popen(
        command,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **kwargs.pop("env", {})},
        **kwargs,
    )
    wait_until(
        lambda: process.poll() is not None or "QSTASH_NEXT_SIGNING_KEY=" in log.read_text(),
        timeout=20,
    )
    return process, log


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_banner_and_clean_stop(tmp_path: Path, sig):
    process, log = _start(
        [
            sys.executable,
            "-m",
            "django_qstash.devserver",
            "--port",
            "0",
            "--db",
            str(tmp_path / "d"),
        ],
        tmp_path,
    )
    text = log.read_text()
    # The JS SDK's dev mode waits for this before it uses the server.
    assert re.search(r"runn+ing( at|\.)", text, re.IGNORECASE)
    url = re.search(r"^QSTASH_URL=(\S+)$", text, re.MULTILINE).group(1)
    assert f"QSTASH_TOKEN={DEFAULT_CREDENTIALS.token}" in text
    assert f"QSTASH_CURRENT_SIGNING_KEY={DEFAULT_CREDENTIALS.current_signing_key}" in text
    assert f"QSTASH_NEXT_SIGNING_KEY={DEFAULT_CREDENTIALS.next_signing_key}" in text
    # The JS SDK's dev-mode probe: GET /v2/keys with the dev token answers the dev keys.
    keys = httpx.get(
        f"{url}/v2/keys",
        headers={"Authorization": f"Bearer {DEFAULT_CREDENTIALS.token}"},
        trust_env=False,
    ).json()
    assert keys == {
        "current": DEFAULT_CREDENTIALS.current_signing_key,
        "next": DEFAULT_CREDENTIALS.next_signing_key,
    }
    process.send_signal(sig)
    assert process.wait(timeout=15) == 0
    assert "stopped" in log.read_text()


@pytest.mark.slow
def test_busy_port_fails_with_a_message(tmp_path: Path, qstash_devserver):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "django_qstash.devserver",
            "--port",
            str(qstash_devserver.port),
            "--db",
            ":memory:",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "Cannot start" in result.stderr


@pytest.mark.slow
def test_manage_py_qstash_dev(tmp_path: Path):
    env = {
        "DJANGO_SETTINGS_MODULE": "cfehome.settings",
        "QSTASH_URL": "http://127.0.0.1:0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    }
    process, log = _start(
        [sys.executable, "manage.py", "qstash_dev", "--db", str(tmp_path / "d"), "--fast-retries"],
        tmp_path,
        cwd=SAMPLE_PROJECT,
        env=env,
    )
    text = log.read_text()
    assert "running at http://127.0.0.1:" in text, text
    assert "retry waits x0.001" in text
    assert f"QSTASH_CURRENT_SIGNING_KEY={DEFAULT_CREDENTIALS.current_signing_key}" in text
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_command_defaults_come_from_settings():
    from django_qstash.management.commands.qstash_dev import settings_argv

    with override_settings(
        QSTASH_URL="http://localhost:9099",
        QSTASH_TOKEN="tok",
        QSTASH_CURRENT_SIGNING_KEY="sig_current_key_of_32_characters",
        QSTASH_NEXT_SIGNING_KEY="sig_next_key_of_32_characters___",
        DJANGO_QSTASH_DEV_FAST_RETRIES=True,
        DJANGO_QSTASH_DEV_CRON_TICK=3,
    ):
        config = config_from_args(build_parser().parse_args(settings_argv()))
    assert (config.host, config.port, config.token) == ("127.0.0.1", 9099, "tok")
    assert config.current_signing_key == "sig_current_key_of_32_characters"
    assert (config.retry_scale, config.cron_tick) == (0.001, 3)
    with override_settings(
        QSTASH_URL="https://qstash.upstash.io", DJANGO_QSTASH_DEV_FAST_RETRIES=0.1
    ):
        argv = settings_argv()
    assert "--port" not in argv
    assert argv[argv.index("--retry-scale") + 1] == "0.1"
