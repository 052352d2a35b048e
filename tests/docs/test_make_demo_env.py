"""``make demo`` and ``make run`` install only what the tour needs (the ``demo`` dependency group,
not the development tools), say so while they install, and leave a ``make sync`` environment as it
was. Run for real, into a virtualenv of the test's own (``UV_PROJECT_ENVIRONMENT``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_TOOLS = {"mypy", "nox", "selenium", "pytest", "ruff", "django-stubs", "celery", "twine"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def make(target: str, venv: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH") and not key.startswith("PYTEST_")
    }
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    return subprocess.run(
        ["make", target], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540
    )


def installed(venv: Path) -> set[str]:
    code = (
        "import importlib.metadata as m, json; "
        "print(json.dumps([d.metadata['Name'].lower() for d in m.distributions()]))"
    )
    output = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.replace("_", "-") for name in json.loads(output)}


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return tmp_path / "venv"


def test_make_demo_env_installs_the_tour_and_no_development_tools(venv: Path) -> None:
    result = make("demo-env", venv)
    assert result.returncode == 0, result.stdout + result.stderr
    # It says what it is installing, and uv reports what it did (not --quiet).
    assert "Installing the workspace and the demo's packages" in result.stdout
    assert "Installed" in result.stderr or "Audited" in result.stderr, result.stderr
    names = installed(venv)
    assert {
        "django",
        "qstash",
        "rich",
        "upstash-workflow",
        "django-environ",
        "django-qstash-core",
        "django-qstash-results",
        "django-qstash-schedules",
    } <= names
    assert not names & DEVELOPMENT_TOOLS
    # Everything the tour and the sample project import is there.
    tour = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys; sys.path.insert(0, 'sample_project'); "
            "import demo, environ, rich.live, httpx, cfehome.settings, upstash_workflow",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert tour.returncode == 0, tour.stderr


def test_make_demo_env_keeps_what_make_sync_installed(venv: Path) -> None:
    """A developer's environment (make sync: the dev group) survives make demo."""
    subprocess.run(
        ["make", "sync"],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)},
        check=True,
        capture_output=True,
        timeout=540,
    )
    before = installed(venv)
    assert DEVELOPMENT_TOOLS <= before
    assert make("demo-env", venv).returncode == 0
    assert installed(venv) == before
