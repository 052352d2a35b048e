"""``python manage.py task_schedules --list | --sync [--dry-run] [--no-input]``.

``--list`` shows the QStash schedules that deliver to this project's webhook
(``DJANGO_QSTASH_DOMAIN`` + ``DJANGO_QSTASH_WEBHOOK_PATH``), marking which have a local row.
``--sync`` reconciles both ways: local rows are pushed (upsert with their stable id, pause or
resume), deletions that could not reach QStash are finished, and remote schedules that carry a
django-qstash task of this project become local rows. Local values are never overwritten.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash.schedules import plan as sync_plan
from django_qstash.schedules import sync
from django_qstash.schedules.models import TaskSchedule

_ACTION_LABELS = {
    "create": "create on QStash",
    "update": "update on QStash",
    "pause": "pause on QStash",
    "resume": "resume on QStash",
    "delete": "delete on QStash",
    "adopt": "add a local row",
    "ok": "in sync",
    "skip": "skip",
    "invalid": "invalid, not pushed",
}


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class Command(BaseCommand):
    help = (
        "List the QStash schedules that target this project's webhook (--list), or reconcile "
        "them with the TaskSchedule rows (--sync, previewed with --dry-run)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--list",
            action="store_true",
            help="List QStash schedules that deliver to this project's webhook.",
        )
        mode.add_argument(
            "--sync",
            action="store_true",
            help="Push local schedules to QStash and adopt remote ones of this project.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With --sync: show what would change, change nothing.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Never prompt: apply the --sync plan without asking.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dry_run"] and not options["sync"]:
            raise CommandError("--dry-run only goes with --sync.")
        try:
            if options["list"]:
                self.list_schedules()
            elif options["sync"]:
                self.sync_schedules(dry_run=options["dry_run"], interactive=options["interactive"])
            else:
                raise CommandError(
                    "Say what to do: --list (show QStash schedules of this project) or --sync "
                    "(reconcile them with the TaskSchedule rows; --dry-run to preview)."
                )
        except sync.ScheduleSyncError as exc:
            raise CommandError(str(exc)) from None
        except ImproperlyConfigured as exc:
            raise CommandError(f"django-qstash is not configured: {exc}") from None

    # ------------------------------------------------------------------ --list

    def list_schedules(self) -> None:
        remote, others = sync.list_remote()
        local = {row.schedule_id: row for row in TaskSchedule.objects.all()}
        target = sync.destination()
        self.stdout.write(f"QStash schedules delivering to {target}:")
        if not remote:
            self.stdout.write("  (none)")
        for item in remote:
            row = local.get(item.schedule_id)
            call = sync.parse_envelope(item)
            task = call.task_name if call else "(not a django-qstash task message)"
            where = (
                self.style.SUCCESS(f"local: {row.name}")
                if row
                else self.style.WARNING("remote only")
            )
            state = "paused" if item.paused else "active"
            self.stdout.write(
                f"  {item.schedule_id}  {item.cron}  {task}  [{state}]  {where}"
                f"  next: {_when(item.next_schedule_time)}"
            )
        remote_ids = {item.schedule_id for item in remote}
        missing = [row for sid, row in local.items() if sid not in remote_ids]
        if missing:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(missing)} local schedule(s) not on QStash: "
                    + ", ".join(row.name for row in missing[:10])
                    + (" ..." if len(missing) > 10 else "")
                    + " (run task_schedules --sync)."
                )
            )
        if others:
            self.stdout.write(
                f"({others} other schedule(s) in this QStash account deliver elsewhere; not shown.)"
            )

    # ------------------------------------------------------------------ --sync

    def sync_schedules(self, *, dry_run: bool, interactive: bool) -> None:
        plan = sync_plan.plan_sync()
        self.stdout.write(f"Sync plan for {sync.destination()}:")
        if not plan.items:
            self.stdout.write("  nothing here and nothing on QStash.")
        for item in plan.items:
            label = _ACTION_LABELS.get(item.action, item.action)
            name = item.name or "(remote only)"
            detail = f" ({item.detail})" if item.detail else ""
            line = f"  {label:<20} {name} [{item.schedule_id}]{detail}"
            if item.action == "invalid":
                line = self.style.ERROR(line)
            elif item.is_change:
                line = self.style.WARNING(line)
            self.stdout.write(line)
        changes = plan.changes
        problems = plan.problems
        synced_rows = [i for i in plan.items if i.action == "ok"]

        if dry_run:
            self.stdout.write(
                f"Dry run: {len(changes)} change(s) would be made; nothing was changed."
            )
            if problems:
                raise CommandError(f"{len(problems)} schedule(s) are invalid; fix them first.")
            return
        if not changes and not synced_rows:
            self.stdout.write("Nothing to do.")
            self._finish(problems, [])
            return
        if changes and interactive and not self._confirm(len(changes)):
            raise CommandError("Sync cancelled; nothing was changed.")

        failures: list[tuple[sync_plan.PlanItem, str]] = []
        applied = 0
        for item in [*changes, *synced_rows]:
            error = sync_plan.apply_item(item)
            if error:
                failures.append((item, error))
            elif item.is_change:
                applied += 1
        self.stdout.write(self.style.SUCCESS(f"Applied {applied} of {len(changes)} change(s)."))
        self._finish(problems, failures)

    def _confirm(self, count: int) -> bool:
        if not sys.stdin or not sys.stdin.isatty():
            raise CommandError(
                "--sync asks before changing anything, but there is no terminal to ask on: "
                "pass --no-input to apply, or --dry-run to preview."
            )
        try:
            answer = input(f"Apply these {count} change(s)? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            return False
        return answer.strip().lower() in {"y", "yes"}

    def _finish(
        self, problems: list[sync_plan.PlanItem], failures: list[tuple[sync_plan.PlanItem, str]]
    ) -> None:
        for item, error in failures:
            self.stderr.write(f"  failed: {item.name or item.schedule_id}: {error}")
        if failures or problems:
            parts = []
            if failures:
                parts.append(f"{len(failures)} change(s) failed")
            if problems:
                parts.append(f"{len(problems)} schedule(s) are invalid")
            raise CommandError(
                " and ".join(parts) + "; the rows are kept and marked unsynced. Fix the cause and "
                "run task_schedules --sync again."
            )
