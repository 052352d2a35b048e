"""``python manage.py clear_stale_results [--since SECONDS] [--no-input] [--dry-run]``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_qstash.results.cleanup import clear_stale_results
from django_qstash.results.conf import conf


def _whole_number(minimum: int, unit: str) -> Callable[[str], int]:
    """An argparse type: a whole number of ``unit`` that is at least ``minimum``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number{unit}") from None
        if number < minimum:
            problem = "is negative" if number < 0 else "is too small"
            raise argparse.ArgumentTypeError(f"{value} {problem}; it must be at least {minimum}")
        return number

    return parse


_seconds = _whole_number(0, " of seconds")
_positive = _whole_number(1, "")


class Command(BaseCommand):
    help = (
        "Delete django-qstash task results older than --since seconds (default: the "
        "DJANGO_QSTASH_RESULT_TTL setting), and expired replay-protection entries."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            type=_seconds,
            default=None,
            metavar="SECONDS",
            help="Delete results finished (or, if never finished, created) more than SECONDS "
            "ago. Default: DJANGO_QSTASH_RESULT_TTL (604800, 7 days).",
        )
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say how many rows would be deleted.",
        )
        parser.add_argument(
            "--batch-size",
            type=_positive,
            default=None,
            metavar="N",
            help="Rows deleted per statement (default: DJANGO_QSTASH_RESULTS_DELETE_BATCH_SIZE, "
            "10000).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        since: int = conf.RESULT_TTL if options["since"] is None else options["since"]
        batch_size: int | None = options["batch_size"]
        try:
            if options["dry_run"] or options["interactive"]:
                planned = clear_stale_results(since, batch_size=batch_size, dry_run=True)
                self.stdout.write(
                    f"{planned.results} task result(s) older than {since} seconds (before "
                    f"{planned.cutoff:%Y-%m-%d %H:%M:%S %Z}) and {planned.signatures} expired "
                    f"signature(s) {'would be' if options['dry_run'] else 'will be'} deleted."
                )
                if options["dry_run"]:
                    self.stdout.write("Dry run: nothing was deleted.")
                    return
                if planned.results == 0 and planned.signatures == 0:
                    self.stdout.write("Nothing to delete.")
                    return
                if not self._confirm():
                    self.stdout.write("Cancelled: nothing was deleted.")
                    return
            report = clear_stale_results(since, batch_size=batch_size)
        except DatabaseError as exc:
            raise CommandError(f"could not clear stale results: {exc}") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {report.results} task result(s) older than {since} seconds and "
                f"{report.signatures} expired signature(s)."
            )
        )

    def _confirm(self) -> bool:
        try:
            answer = input("Delete them? Type 'yes' to continue, or 'no' to cancel: ")
        except EOFError:
            raise CommandError(
                "no answer to the confirmation prompt (no input available); "
                "pass --no-input to delete without asking"
            ) from None
        return answer.strip().lower() in ("y", "yes")
