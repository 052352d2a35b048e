"""Each distribution builds a wheel that installs and works alone, in a fresh virtualenv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", *APPS],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    DJANGO_QSTASH_DOMAIN="https://example.com",
    QSTASH_TOKEN="t", QSTASH_CURRENT_SIGNING_KEY="k1", QSTASH_NEXT_SIGNING_KEY="k2",
    ROOT_URLCONF="django_qstash.urls", DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
)
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import django_qstash
from django_qstash import shared_task

@shared_task
def add(a, b):
    return a + b

assert add.apply((1, 2)).get() == 3
"""


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        raise AssertionError("uv is needed to build the wheels: pip install uv")
    return found


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [uv(), "build", "--all-packages", "--wheel", "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    found = {path.name.split("-")[0]: path for path in out.glob("*.whl")}
    assert set(found) == {
        "django_qstash",
        "django_qstash_core",
        "django_qstash_results",
        "django_qstash_schedules",
    }
    return found


def fresh_venv(tmp_path: Path, *wheels: Path) -> Path:
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env
    )
    python = venv / "bin" / "python"
    links = ["--find-links", str(wheels[0].parent)] if wheels else []
    subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), *links, *map(str, wheels)],
        check=True,
        env=env,
        timeout=300,
    )
    return python


def run(python: Path, apps: list[str], extra: str = "") -> subprocess.CompletedProcess[str]:
    code = f"APPS = {apps!r}\n" + SETUP + textwrap.dedent(extra)
    return subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )


def test_core_alone(wheels, tmp_path):
    python = fresh_venv(tmp_path, wheels["django_qstash_core"])
    result = run(
        python,
        ["django_qstash"],
        """
        import importlib.util
        assert importlib.util.find_spec("django_qstash.results") is None
        assert importlib.util.find_spec("django_qstash.schedules") is None
        from django_qstash.discovery.utils import discover_tasks
        print("ok", discover_tasks(paths_only=True))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ['__main__.add']")


def test_core_and_results(wheels, tmp_path):
    python = fresh_venv(tmp_path, wheels["django_qstash_core"], wheels["django_qstash_results"])
    result = run(
        python,
        ["django_qstash", "django_qstash.results"],
        """
        import importlib.util
        from django_qstash.results.models import TaskResult
        assert importlib.util.find_spec("django_qstash.schedules") is None
        print("ok", TaskResult._meta.app_label)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok django_qstash_results"


def test_core_and_schedules(wheels, tmp_path):
    python = fresh_venv(tmp_path, wheels["django_qstash_core"], wheels["django_qstash_schedules"])
    result = run(
        python,
        ["django_qstash", "django_qstash.schedules"],
        """
        import importlib.util
        from django_qstash.schedules.models import TaskSchedule
        assert importlib.util.find_spec("django_qstash.results") is None
        print("ok", TaskSchedule._meta.app_label)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok django_qstash_schedules"


def test_the_django_qstash_meta_package_installs_all_three(wheels, tmp_path):
    python = fresh_venv(tmp_path, wheels["django_qstash"])
    result = run(
        python,
        ["django_qstash", "django_qstash.results", "django_qstash.schedules"],
        """
        from importlib.metadata import version
        print("ok", version("django-qstash-core"), version("django-qstash-results"), version("django-qstash-schedules"))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
