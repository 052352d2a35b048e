"""`import django_qstash` is cheap: no settings, no SDK, no network at import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )


def test_import_touches_neither_settings_nor_the_sdk():
    result = run_python(
        """
        import sys
        import django_qstash
        from django_qstash import shared_task, stashed_task, AsyncResult, EagerResult
        heavy = [m for m in ("qstash", "httpx", "jwt", "certifi") if m in sys.modules]
        import django.conf
        print("configured" if django.conf.settings.configured else "unconfigured", heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unconfigured []"


def test_a_task_defined_and_called_without_settings_runs_inline():
    result = run_python(
        """
        from django_qstash import shared_task, stashed_task

        @shared_task
        def add(a, b):
            return a + b

        @stashed_task(max_retries=1)
        def mul(a, b):
            return a * b

        print(add(2, 3), mul(4, 5), add.name)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5", "20", "__main__.add"]


def test_unknown_public_name_is_an_attribute_error():
    import django_qstash

    with pytest.raises(AttributeError, match="no_such_name"):
        django_qstash.no_such_name  # noqa: B018
    assert "shared_task" in dir(django_qstash)


def test_sub_apps_are_importable_from_their_own_distributions():
    import django_qstash
    import django_qstash.results
    import django_qstash.schedules

    assert len(django_qstash.__path__) >= 1
    assert django_qstash.results.__name__ == "django_qstash.results"
    assert django_qstash.schedules.__name__ == "django_qstash.schedules"


def test_celery_canvas_names_come_from_the_top_level_package():
    from django_qstash import Signature, chain, group, signature
    from django_qstash.canvas import chain as canvas_chain

    assert chain is canvas_chain
    assert callable(group)
    assert callable(signature)
    assert isinstance(Signature, type)
