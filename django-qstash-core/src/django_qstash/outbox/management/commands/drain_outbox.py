"""``manage.py drain_outbox``: publish what waits in the outbox, or schedule the drain."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash import hooks
from django_qstash.outbox import relay
from django_qstash.outbox.views import drain_url

#: The QStash schedule id of ``--schedule``: creating it again replaces it.
SCHEDULE_ID = "django-qstash-outbox-drain"
SCHEDULE_CRON = "* * * * *"


class Command(BaseCommand):
    help = (
        "Publish the outbox's pending messages to QStash: once (--once) or every --interval "
        "seconds; --schedule creates a QStash schedule that calls the drain endpoint every "
        "minute instead (--unschedule removes it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between passes (default 5)"
        )
        parser.add_argument(
            "--respect-backoff",
            action="store_true",
            help="skip rows still waiting after a failed attempt (default: publish them now)",
        )
        parser.add_argument("--database", default=None, help="the outbox's database alias")
        parser.add_argument(
            "--schedule", action="store_true", help="create the every-minute drain schedule"
        )
        parser.add_argument("--unschedule", action="store_true", help="delete the drain schedule")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["schedule"] and options["unschedule"]:
            raise CommandError("give --schedule or --unschedule, not both")
        if options["schedule"]:
            return self._schedule()
        if options["unschedule"]:
            hooks.get_qstash_client().schedule.delete(SCHEDULE_ID)
            self.stdout.write(f"Deleted QStash schedule {SCHEDULE_ID}.")
            return None
        if options["interval"] <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        try:
            while True:
                total = self._pass(options["database"], options["respect_backoff"])
                if options["once"]:
                    self._summary(total)
                    if total.failed:
                        raise CommandError(f"{total.failed} message(s) could not be published")
                    return None
                time.sleep(options["interval"])
        except KeyboardInterrupt:
            return None

    def _pass(self, database: str | None, respect_backoff: bool) -> relay.DrainReport:
        total = relay.DrainReport()
        for report in relay.drain(database, respect_backoff=respect_backoff):
            total.add(report)
            line = f"published {total.published}"
            if total.failed:
                line += (
                    f", not published {total.failed} ({report.errors[-1] if report.errors else ''})"
                )
            self.stdout.write(line)
        return total

    def _summary(self, total: relay.DrainReport) -> None:
        left = relay.pending_summary()
        self.stdout.write(
            f"Outbox drained: {total.published} published, {total.failed} failed, "
            f"{left['pending']} pending."
        )

    def _schedule(self) -> None:
        url = drain_url()
        client = hooks.get_qstash_client()
        try:
            client.schedule.create(
                destination=url, cron=SCHEDULE_CRON, schedule_id=SCHEDULE_ID, retries=0
            )
        except Exception as exc:
            failure = hooks.translate_sdk_error(exc)
            raise CommandError(f"QStash did not create the drain schedule: {failure}") from exc
        self.stdout.write(
            f"QStash schedule {SCHEDULE_ID} calls {url} every minute (cron {SCHEDULE_CRON!r})."
        )
