"""The test matrix: each supported (Python, Django) pair in its own uv-built virtualenv.

Interpreters come from PATH (the Makefile makes pyenv's available); uv never downloads one.
"""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["tests", "packaging"]
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

MATRIX = [("3.10", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]
MEMBERS = ["django-qstash-core", "django-qstash-results", "django-qstash-schedules"]


def install_project(session: nox.Session, django: str) -> None:
    editable = [arg for member in MEMBERS for arg in ("-e", member)]
    session.install(*editable, "--group", "test", f"django~={django}.0")


#: The slow end-to-end suites (whole workflows, faults and load, the outbox's faults, `make
#: run`/`make demo` in a terminal, every printed command, headless Chromium): run once, in the
#: newest session of the matrix, so CI stays well under its time budget. The other sessions run
#: everything else.
END_TO_END_SESSION = MATRIX[-1]
END_TO_END = [
    "tests/workflows",
    "tests/reliability",
    "tests/outbox/test_faults.py",
    "tests/docs/test_demo.py",
    "tests/docs/test_make_demo_env.py",
    "tests/docs/test_make_run.py",
    "tests/docs/test_printed_commands.py",
    "tests/docs/test_tour_terminal.py",
]


@nox.session(name="tests")
@nox.parametrize(("python", "django"), MATRIX, ids=[f"py{p}-django{d}" for p, d in MATRIX])
def tests(session: nox.Session, django: str) -> None:
    """The suite on SQLite (the end-to-end suites only in the newest session), except the
    wheel-packaging test."""
    install_project(session, django)
    marks = "not packaging and not soak"
    skipped: list[str] = []
    if (session.python, django) != END_TO_END_SESSION:
        marks += " and not browser"
        skipped = [f"--ignore={path}" for path in END_TO_END]
    session.run("python", "-m", "pytest", "-m", marks, *skipped, *session.posargs)


@nox.session(name="tests-postgres", python="3.12")
def tests_postgres(session: nox.Session) -> None:
    """The tests that need PostgreSQL (concurrency), against the server on 127.0.0.1:5432."""
    install_project(session, "6.0")
    env = {
        "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
    }
    session.run("python", "-m", "pytest", "-m", "postgres and not soak", *session.posargs, env=env)


@nox.session(python="3.12")
def packaging(session: nox.Session) -> None:
    """Build the wheels and install them alone and together into fresh virtualenvs."""
    install_project(session, "6.0")
    session.run("python", "-m", "pytest", "-m", "packaging", *session.posargs)
