"""Each distribution builds a wheel that installs and works alone, in a fresh virtualenv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
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
        # Without the workflows extra the SDK is really missing: the error names the extra.
        from django.core.exceptions import ImproperlyConfigured
        try:
            from django_qstash.workflows import WorkflowContext
        except ImproperlyConfigured as exc:
            print("no sdk:", 'pip install "django-qstash-core[workflows]"' in str(exc))
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ['__main__.add']")
    assert "no sdk: True" in result.stdout


def test_core_with_the_workflows_extra(wheels, tmp_path):
    python = fresh_venv(tmp_path, Path(f"{wheels['django_qstash_core']}[workflows]"))
    result = run(
        python,
        ["django_qstash"],
        """
        from django_qstash.workflows import Workflow, WorkflowContext

        def greet(context):
            context.run("hello", lambda: "hello")

        print("ok", WorkflowContext.__module__, Workflow(greet, name="greet").name)
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok upstash_workflow.context.context greet"


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


@pytest.fixture(scope="module")
def distributions(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Every sdist and wheel the workspace builds, as they would be uploaded."""
    out = tmp_path_factory.mktemp("upload")
    subprocess.run(
        [uv(), "build", "--all-packages", "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    built = sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))
    assert len(built) == 8, built
    return built


def test_twine_check_passes_on_every_distribution(distributions):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, distributions)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == len(distributions), result.stdout


def test_each_long_description_has_only_absolute_links_and_project_urls(distributions):
    from email.parser import Parser

    from tests.docs.test_readmes import links

    for wheel in [path for path in distributions if path.suffix == ".whl"]:
        with zipfile.ZipFile(wheel) as archive:
            (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = Parser().parsestr(archive.read(name).decode())
        description = metadata.get_payload()
        assert metadata["Description-Content-Type"] == "text/markdown", wheel.name
        assert len(description) > 500, wheel.name
        relative = [t for t in links(description) if not t.startswith(("https://", "mailto:"))]
        assert relative == [], f"{wheel.name}: {relative}"
        urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL") or [])
        assert {"Homepage", "Documentation", "Issues"} <= set(urls), wheel.name
        assert all(url.startswith("https://github.com/") for url in urls.values()), urls
