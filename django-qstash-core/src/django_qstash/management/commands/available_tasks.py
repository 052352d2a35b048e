from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_qstash.discovery.utils import autodiscover
from django_qstash.registry import registry


class Command(BaseCommand):
    help = "List the tasks django-qstash discovered in the installed apps."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print JSON for machines.")

    def handle(self, *args: Any, **options: Any) -> None:
        autodiscover()
        rows: list[dict[str, Any]] = [
            {
                "name": name,
                "module": task.run.__module__,
                "function": task.run.__qualname__,
                "options": {k: repr(v) if not _is_json(v) else v for k, v in task.options.items()},
                "bind": task.bind,
                "is_async": task.is_async,
            }
            for name, task in registry.items()
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("No tasks found. Define them with @shared_task in an app's tasks.py.")
            return
        width = max(len(row["name"]) for row in rows)
        for row in rows:
            opts = ", ".join(f"{k}={v}" for k, v in row["options"].items())
            self.stdout.write(
                f"{row['name']:<{width}}  {row['module']}" + (f"  [{opts}]" if opts else "")
            )
        self.stdout.write(f"{len(rows)} task{'s' if len(rows) != 1 else ''}.")


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
