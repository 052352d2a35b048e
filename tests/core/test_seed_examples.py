"""The original description's documented usage (core part), run as written there."""

from __future__ import annotations

import json
import logging
import os
import textwrap
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.urls import resolve

from django_qstash.views import qstash_webhook_view


def run_example(code: str, **namespace: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {"__name__": "seed_example", **namespace}
    exec(compile(textwrap.dedent(code), "<seed example>", "exec"), scope)  # noqa: S102
    return scope


DEFINE = """
    # from celery import shared_task
    from django_qstash import shared_task
    from django_qstash import stashed_task


    @stashed_task
    def hello_world(name: str, age: int = None, activity: str = None):
        if age is None:
            print(f"Hello {name}! I see you're {activity}.")
            return
        print(f"Hello {name}! I see you're {activity} at {age} years old.")


    @shared_task
    def hello_world_redux(name: str, age: int = None, activity: str = None):
        if age is None:
            print(f"Hello {name}! I see you're {activity}.")
            return
        print(f"Hello {name}! I see you're {activity} at {age} years old.")
"""


def test_my_task_example():
    scope = run_example(
        """
        from django_qstash import shared_task


        @shared_task
        def my_task():
            pass
        """
    )
    assert scope["my_task"]() is None
    assert scope["my_task"].name == "seed_example.my_task"


def test_regular_call(capsys):
    scope = run_example(DEFINE)
    scope["hello_world"]("Tony Stark", age=40, activity="building in a cave with a box of scraps.")
    assert capsys.readouterr().out == (
        "Hello Tony Stark! I see you're building in a cave with a box of scraps. at 40 years old.\n"
    )


def test_delay_and_apply_async_examples(qstash):
    scope = run_example(DEFINE)
    run_example(
        """
        hello_world.delay(
            "Tony Stark", age=40, activity="building in a cave with a box of scraps."
        )
        hello_world.apply_async(
            args=("Tony Stark",),
            kwargs={"activity": "building in a cave with a box of scraps."},
        )
        # async task delayed 35 seconds
        delay_35_seconds = 35
        hello_world.apply_async(
            args=("Tony Stark",),
            kwargs={"activity": "building in a cave with a box of scraps."},
            countdown=delay_35_seconds,
        )
        hello_world_redux.delay("Pepper Potts")
        """,
        **scope,
    )
    first, second, third, fourth = qstash.requests
    assert first.json()["kwargs"] == {
        "age": 40,
        "activity": "building in a cave with a box of scraps.",
    }
    assert second.json()["args"] == ["Tony Stark"]
    assert "Upstash-Delay" not in second.headers
    assert third.headers["Upstash-Delay"] == "35s"
    assert fourth.json()["task"] == "seed_example.hello_world_redux"


def test_json_ready_example(capsys):
    run_example(
        """
        import json

        data = {
            "args": ("Tony Stark",),
            "kwargs": {"activity": "building in a cave with a box of scraps."},
        }
        print(json.dumps(data))
        """
    )
    assert json.loads(capsys.readouterr().out)["args"] == ["Tony Stark"]


def test_math_add_task_example(qstash, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scope = run_example(
        """
        # from celery import shared_task
        # becomes
        # from django_qstash import shared_task
        # or
        from django_qstash import stashed_task


        @stashed_task
        def math_add_task(a, b, save_to_file=False, *args, **kwargs):
            logger.info(f"Adding {a} and {b}")
            if save_to_file:
                with open("math-add-result.txt", "w") as f:
                    f.write(f"{a} + {b} = {a + b}")
            return a + b
        """,
        logger=logging.getLogger("seed"),
    )
    run_example(
        """
        math_add_task.apply_async(args=(12, 454), save_to_file=True)
        math_add_task.delay(12, 454, save_to_file=True)
        five_hours = 5 * 60 * 60
        math_add_task.apply_async(
            args=(12, 454), kwargs={"save_to_file": True}, countdown=five_hours
        )
        """,
        **scope,
    )
    via_apply_async, via_delay, delayed = qstash.requests
    assert via_apply_async.body == via_delay.body
    assert via_delay.json()["kwargs"] == {"save_to_file": True}
    assert delayed.headers["Upstash-Delay"] == "18000s"
    assert scope["math_add_task"](12, 454, save_to_file=True) == 466
    assert (tmp_path / "math-add-result.txt").read_text() == "12 + 454 = 466"


def test_the_webhook_is_included_at_its_documented_path():
    match = resolve("/qstash/webhook/")
    assert match.func is qstash_webhook_view


def test_os_environ_settings_example(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    monkeypatch.setenv("USE_LOCAL_QSTASH", "1")
    monkeypatch.setenv("QSTASH_TOKEN", "tok")
    monkeypatch.setenv("DJANGO_QSTASH_DOMAIN", "https://example.com")
    monkeypatch.setenv("DJANGO_QSTASH_WEBHOOK_PATH", "/qstash/webhook/")
    monkeypatch.delenv("QSTASH_URL", raising=False)
    scope = run_example(
        """
        import os

        ###########################
        # django settings
        ###########################
        DJANGO_DEBUG = str(os.environ.get("DJANGO_DEBUG")) == "1"
        DJANGO_SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY")
        ALLOWED_HOSTS = [os.environ.get("ALLOWED_HOST")]
        CSRF_TRUSTED_ORIGINS = [os.environ.get("CSRF_TRUSTED_ORIGIN")]
        ###########################
        # qstash-py settings
        ###########################
        USE_LOCAL_QSTASH = str(os.environ.get("USE_LOCAL_QSTASH")) == "1"
        QSTASH_TOKEN = os.environ.get("QSTASH_TOKEN")
        QSTASH_CURRENT_SIGNING_KEY = os.environ.get("QSTASH_CURRENT_SIGNING_KEY")
        QSTASH_NEXT_SIGNING_KEY = os.environ.get("QSTASH_NEXT_SIGNING_KEY")
        if DJANGO_DEBUG and USE_LOCAL_QSTASH:
            # connect to the docker compose qstash instance
            os.environ["QSTASH_URL"] = "http://127.0.0.1:8585"
        ###########################
        # django_qstash settings
        ###########################
        DJANGO_QSTASH_DOMAIN = os.environ.get("DJANGO_QSTASH_DOMAIN")
        DJANGO_QSTASH_WEBHOOK_PATH = os.environ.get("DJANGO_QSTASH_WEBHOOK_PATH")
        DJANGO_QSTASH_FORCE_HTTPS = True
        DJANGO_QSTASH_RESULT_TTL = 604800
        """
    )
    from django_qstash.conf import conf

    names = [name for name in scope if name.startswith(("QSTASH_", "DJANGO_QSTASH_"))]
    with override_settings(QSTASH_URL=None, **{name: scope[name] for name in names}):
        assert conf.QSTASH_URL == "http://127.0.0.1:8585"  # from os.environ, as the example sets it
        assert conf.QSTASH_TOKEN == "tok"
        assert conf.webhook_url == "https://example.com/qstash/webhook/"
        assert conf.FORCE_HTTPS is True
        assert conf.RESULT_TTL == 604800
    assert os.environ["QSTASH_URL"] == "http://127.0.0.1:8585"


def test_settings_defaults():
    from django_qstash.conf import conf

    with override_settings():
        from django.conf import settings

        for name in (
            "DJANGO_QSTASH_WEBHOOK_PATH",
            "DJANGO_QSTASH_FORCE_HTTPS",
            "DJANGO_QSTASH_RESULT_TTL",
        ):
            delattr(settings, name)
        assert conf.WEBHOOK_PATH == "/qstash/webhook/"
        assert conf.FORCE_HTTPS is True
        assert conf.RESULT_TTL == 604800


def test_available_tasks_command(capsys):
    call_command("available_tasks")
    assert "example.tasks.hello_world" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["shared_task", "stashed_task"])
def test_documented_imports(name):
    import django_qstash

    assert callable(getattr(django_qstash, name))
    from django_qstash.discovery.utils import discover_tasks  # noqa: F401
    from django_qstash.views import qstash_webhook_view  # noqa: F401
