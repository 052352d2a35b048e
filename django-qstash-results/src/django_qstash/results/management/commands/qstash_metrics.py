"""``manage.py qstash_metrics``: the dashboard's figures on the command line."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from django_qstash.results import metrics
from django_qstash.results.display import exact_time, human_duration


class Command(BaseCommand):
    help = (
        "Per task runs, successes, failures, retries, failure rate and p50/p95 duration over a "
        "window, failing tasks first; the latest failures; pending and retrying counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            choices=list(metrics.WINDOWS),
            default=metrics.DEFAULT_WINDOW,
            help=f"The window (default {metrics.DEFAULT_WINDOW}).",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON for machines.")

    def handle(self, *args: Any, **options: Any) -> None:
        figures = metrics.collect(options["since"])
        if options["json"]:
            self.stdout.write(json.dumps(figures.to_json(), indent=2))
            return
        self.stdout.write(
            f"Task results of the last {figures.window} "
            f"({exact_time(figures.since)} to {exact_time(figures.until)})"
        )
        rows = [*figures.tasks, figures.totals] if figures.tasks else []
        if not rows:
            self.stdout.write("No runs in this window.")
        else:
            width = max(len(row.task_name) for row in rows)
            header = (
                f"{'task':<{width}}  {'runs':>7}  {'ok':>7}  {'failed':>7}  {'retries':>7}  "
                f"{'fail %':>6}  {'p50':>9}  {'p95':>9}"
            )
            self.stdout.write(header)
            for row in rows:
                p50 = human_duration(row.p50) if row is not figures.totals else ""
                p95 = human_duration(row.p95) if row is not figures.totals else ""
                self.stdout.write(
                    f"{row.task_name:<{width}}  {row.runs:>7}  {row.successes:>7}  "
                    f"{row.failures:>7}  {row.retries:>7}  {row.failure_rate:>6.1%}  "
                    f"{p50:>9}  {p95:>9}"
                )
        self.stdout.write(f"Pending now: {figures.pending}; retrying now: {figures.retrying}.")
        if figures.latest_failures:
            self.stdout.write("Latest failures:")
            for failure in figures.latest_failures:
                self.stdout.write(
                    f"  {exact_time(failure.date_done)}  {failure.task_name}  [{failure.task_id}]  "
                    f"{failure.error[:120]}"
                )
