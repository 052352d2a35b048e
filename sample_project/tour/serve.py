"""``make run``: both servers on the sample project's own database, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from tour.servers import (
    MANAGE,
    RETRY_SCALE,
    SAMPLE_PROJECT,
    Stack,
    port_is_free,
    reserved_port,
    stopped_on_exit,
)

#: The ports the sample project's settings (and the README's admin URL) expect.
QSTASH_PORT = 8080
DJANGO_PORT = 8000


def serve_main(args: argparse.Namespace) -> int:
    """``make run``: both servers on the project's own settings, until Ctrl-C."""
    qstash_port = QSTASH_PORT if port_is_free(QSTASH_PORT) else reserved_port()
    django_port = DJANGO_PORT if port_is_free(DJANGO_PORT) else reserved_port()
    # Logs and the dev server's messages live outside the repository, and outlive a restart.
    workdir = Path(tempfile.gettempdir()) / "django-qstash-run"
    workdir.mkdir(exist_ok=True)
    stack = Stack(
        workdir=workdir,
        database_url=os.environ.get("DATABASE_URL") or _dotenv_database_url(),
        qstash_port=qstash_port,
        django_port=django_port,
        devserver_flags=["--retry-scale", str(RETRY_SCALE)],
        qstash_db=workdir / "qstash-dev.db",
    )
    try:
        with stopped_on_exit(stack):
            stack.manage("migrate", "--no-input", "-v", "0")
            created = ensure_superuser(stack)
            stack.start_devserver()
            stack.start_django(debug=True)
            print(
                f"QStash dev server  {stack.qstash_url}   (log: {stack.servers[0].log_path})\n"
                f"sample project     {stack.django_url}   (log: {stack.servers[1].log_path})\n"
                f"admin              {stack.django_url}/admin/   "
                + ("user admin, password admin" if created else "log in as your superuser")
                + "\n\nTry it in another terminal (from this directory):\n"
                f"  {try_it_command(stack)}\n"
                "It prints 5 once QStash has delivered the task; the result is under Task results "
                "in the admin.\nCtrl-C stops both servers.",
                flush=True,
            )
            while True:
                for server in stack.servers:
                    server.check_alive()
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nboth servers stopped")
        return 0
    except Exception as exc:
        print(f"make run failed: {exc}", file=sys.stderr)
        return 1


def try_it_command(stack: Stack) -> str:
    """A shell command that works as printed from the current directory: this interpreter (the
    workspace's .venv, which nothing activates) and, only where ``make run`` had to move off the
    ports the sample settings expect, the addresses it moved to."""
    python = Path(sys.executable)
    with suppress(ValueError):
        python = python.relative_to(Path.cwd())
    manage = MANAGE
    with suppress(ValueError):
        manage = manage.relative_to(Path.cwd())
    moved = []
    if stack.django_port != DJANGO_PORT:
        moved.append(f"DJANGO_QSTASH_DOMAIN={stack.django_url}")
    if stack.qstash_port != QSTASH_PORT:
        moved.append(f"QSTASH_URL={stack.qstash_url}")
    code = (
        "from example.tasks import math_add_task; print(math_add_task.delay(2, 3).get(timeout=30))"
    )
    words = [*moved, shlex.quote(str(python)), shlex.quote(str(manage)), "shell", "-c"]
    return " ".join(words) + f" '{code}'"


def _dotenv_database_url() -> str:
    """The project's own database: DATABASE_URL from sample_project/.env, else db.sqlite3."""
    dotenv = SAMPLE_PROJECT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "DATABASE_URL" and value.strip():
                return value.strip()
    return f"sqlite:///{SAMPLE_PROJECT / 'db.sqlite3'}"


def ensure_superuser(stack: Stack) -> bool:
    """Create the admin/admin superuser of the local sample database if it has no superuser;
    say whether a user named admin exists."""
    output = stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "User = get_user_model()\n"
        "if not User.objects.filter(is_superuser=True).exists():\n"
        "    User.objects.create_superuser('admin', 'admin@example.com', 'admin')\n"
        "print('admin user:', User.objects.filter(username='admin').exists())\n",
    )
    return "admin user: True" in output
