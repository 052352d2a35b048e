"""``manage.py qstash_dlq``: list, inspect, requeue and delete the messages QStash gave up on."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_qstash import dlq
from django_qstash.conf import conf
from django_qstash.publisher import get_client

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PROGRESS_WIDTH = 30


def duration(value: str) -> float:
    """``90``, ``30s``, ``15m``, ``2h``, ``7d`` or ``1w``, in seconds (for argparse)."""
    match = _DURATION.match(value)
    if match is None:
        import argparse

        raise argparse.ArgumentTypeError(
            f"{value!r} is not a duration: write a number with s, m, h, d or w (e.g. 2h, 7d)"
        )
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class Command(BaseCommand):
    help = (
        "List, inspect, requeue and delete QStash dead letters (messages QStash gave up on). "
        "--list shows this site's webhook messages (--all: the whole account)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_argument_group("what to do (one of)")
        action.add_argument("--list", action="store_true", help="List dead letters.")
        action.add_argument("--get", metavar="DLQ_ID", help="Show one dead letter in full.")
        action.add_argument(
            "--requeue",
            nargs="*",
            metavar="DLQ_ID",
            help="Publish these dead letters again and remove them from the DLQ "
            "(no ids: with --all, every one the filters match).",
        )
        action.add_argument(
            "--delete",
            nargs="*",
            metavar="DLQ_ID",
            help="Delete these dead letters (no ids: with --all, every one the filters match).",
        )
        action.add_argument(
            "--delete-many", nargs="+", metavar="DLQ_ID", help="Delete these dead letters."
        )
        scope = parser.add_argument_group("which messages")
        scope.add_argument(
            "--all",
            action="store_true",
            help="Every message the filters match, in the whole account (not only the ones "
            "sent to this site's webhook).",
        )
        scope.add_argument(
            "--task",
            action="append",
            default=[],
            metavar="NAME",
            help="Only this task (repeatable; shell patterns such as 'app.tasks.*' work).",
        )
        scope.add_argument(
            "--newer-than", type=duration, metavar="AGE", help="Only messages younger (e.g. 2h)."
        )
        scope.add_argument(
            "--older-than", type=duration, metavar="AGE", help="Only messages older (e.g. 7d)."
        )
        scope.add_argument("--count", type=int, help="At most this many messages.")
        scope.add_argument("--cursor", help="Start --list at this cursor of the DLQ API.")
        scope.add_argument("--message-id", help="Only this QStash message id.")
        scope.add_argument("--url", help="Only messages to this destination URL.")
        scope.add_argument("--url-group", help="Only messages to this URL group.")
        scope.add_argument("--queue", help="Only messages of this queue.")
        scope.add_argument("--schedule-id", help="Only messages of this schedule.")
        scope.add_argument("--response-status", type=int, help="Only this last HTTP status.")
        scope.add_argument("--label", help="Only messages with this label.")
        parser.add_argument("--json", action="store_true", help="Print JSON for machines.")
        parser.add_argument(
            "--no-input", action="store_true", help="Never prompt (bulk work goes ahead)."
        )

    # ------------------------------------------------------------------ dispatch

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [
            name
            for name in ("list", "get", "requeue", "delete", "delete_many")
            if options[name] not in (None, False)
        ]
        if len(chosen) != 1:
            raise CommandError(
                "say what to do: one of --list, --get ID, --requeue [ID ...], --delete [ID ...]"
                + (
                    f" (got {', '.join('--' + c.replace('_', '-') for c in chosen)})"
                    if chosen
                    else ""
                )
            )
        try:
            client = get_client()
            getattr(self, f"_{chosen[0]}")(client, options)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        except CommandError:
            raise
        except Exception as exc:  # the SDK's errors (network, 4xx/5xx) as a message
            raise CommandError(
                f"QStash answered with an error: {type(exc).__name__}: {exc}"
            ) from exc

    def _selection(self, options: dict[str, Any]) -> dlq.Selection:
        url = options["url"] or (None if options["all"] else conf.webhook_url)
        return dlq.Selection(
            url=url,
            tasks=options["task"],
            newer_than=options["newer_than"],
            older_than=options["older_than"],
            filters={
                "message_id": options["message_id"],
                "url_group": options["url_group"],
                "queue": options["queue"],
                "schedule_id": options["schedule_id"],
                "response_status": options["response_status"],
                "label": options["label"],
            },
        )

    def _letters(self, client: Any, options: dict[str, Any]) -> list[dlq.DeadLetter]:
        return list(
            dlq.iter_dead_letters(
                client, self._selection(options), cursor=options["cursor"], limit=options["count"]
            )
        )

    # ------------------------------------------------------------------ actions

    def _list(self, client: Any, options: dict[str, Any]) -> None:
        letters = self._letters(client, options)
        if options["json"]:
            self.stdout.write(json.dumps([letter.to_json() for letter in letters], indent=2))
            return
        if not letters:
            self.stdout.write("No dead letters.")
            return
        for letter in letters:
            self.stdout.write(
                f"{letter.dlq_id}  {letter.created_at:%Y-%m-%d %H:%M:%S}  "
                f"{letter.response_status}  {letter.task_name or letter.url}  "
                f"[{letter.task_id}]  {_short(letter.error, 80)}"
            )
        self.stdout.write(f"{len(letters)} dead letter{'s' if len(letters) != 1 else ''}.")

    def _get(self, client: Any, options: dict[str, Any]) -> None:
        letter = dlq.get_dead_letter(client, options["get"])
        if options["json"]:
            self.stdout.write(json.dumps(letter.to_json(), indent=2))
            return
        rows = [
            ("DLQ id", letter.dlq_id),
            ("Message id", letter.message_id),
            ("Task", letter.task_name or "(not a django-qstash message)"),
            ("Task id", letter.task_id),
            ("Args", json.dumps(letter.args)),
            ("Kwargs", json.dumps(letter.kwargs)),
            ("Destination", letter.url),
            ("Created", f"{letter.created_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Attempts", "?" if letter.attempts is None else str(letter.attempts)),
            ("Max retries", str(letter.max_retries)),
            ("Last status", str(letter.response_status)),
            ("Last response", letter.response_body or "-"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            self.stdout.write(f"{name:<{width}}  {value}")

    def _targets(
        self, client: Any, options: dict[str, Any], ids: list[str]
    ) -> list[dlq.DeadLetter]:
        if ids:
            return [dlq.from_sdk(client.dlq.get(dlq_id)) for dlq_id in ids]
        if not options["all"]:
            raise CommandError("name the dead letters (DLQ ids), or pass --all with filters")
        return self._letters(client, options)

    def _confirm(self, verb: str, count: int, options: dict[str, Any]) -> bool:
        if options["no_input"] or not options["all"]:
            return True
        answer = input(f"{verb} {count} dead letter{'s' if count != 1 else ''}? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    def _requeue(self, client: Any, options: dict[str, Any]) -> None:
        letters = self._targets(client, options, options["requeue"])
        if not letters:
            self._report(options, {"requeued": {}, "failed": {}}, "Nothing to requeue.")
            return
        if not self._confirm("Requeue", len(letters), options):
            raise CommandError("cancelled; nothing was requeued")
        done, failed = dlq.requeue_many(client, letters, self._progress(len(letters)))
        lines = [f"Requeued {dlq_id} as message {new_id}" for dlq_id, new_id in done.items()]
        lines += [f"Could not requeue {dlq_id}: {error}" for dlq_id, error in failed.items()]
        lines.append(f"Requeued {len(done)} of {len(letters)} dead letter(s).")
        self._report(options, {"requeued": done, "failed": failed}, "\n".join(lines))
        if failed:
            raise CommandError(f"{len(failed)} dead letter(s) could not be requeued")

    def _delete(self, client: Any, options: dict[str, Any]) -> None:
        ids = options["delete"]
        named = bool(ids)
        if not ids:
            letters = self._targets(client, options, ids)
            ids = [letter.dlq_id for letter in letters]
            if ids and not self._confirm("Delete", len(ids), options):
                raise CommandError("cancelled; nothing was deleted")
        progress = self._progress(len(ids))
        deleted = 0
        for start in range(0, len(ids), dlq.PAGE_SIZE):
            deleted += dlq.delete(client, ids[start : start + dlq.PAGE_SIZE])
            progress(min(start + dlq.PAGE_SIZE, len(ids)), len(ids))
        self._report(options, {"deleted": deleted}, f"Deleted {deleted} dead letter(s).")
        if named and deleted < len(ids):
            # QStash skips ids it does not have: a mistyped id must not look like success.
            raise CommandError(
                f"only {deleted} of the {len(ids)} dead letter(s) asked for "
                f"({', '.join(ids)}) were in the DLQ"
            )

    def _delete_many(self, client: Any, options: dict[str, Any]) -> None:
        options["delete"] = options["delete_many"]
        self._delete(client, options)

    # ------------------------------------------------------------------ output

    def _report(self, options: dict[str, Any], data: dict[str, Any], text: str) -> None:
        self.stdout.write(json.dumps(data, indent=2) if options["json"] else text)

    def _progress(self, total: int) -> dlq.Progress:
        """A progress bar on stderr for bulk work (nothing for a single message)."""

        def show(done: int, of: int) -> None:
            if total <= 1:
                return
            filled = _PROGRESS_WIDTH * done // max(of, 1)
            bar = "#" * filled + "." * (_PROGRESS_WIDTH - filled)
            end = "\n" if done >= of else ""
            self.stderr.write(f"\r[{bar}] {done}/{of}", ending=end)
            if hasattr(sys.stderr, "flush"):
                self.stderr.flush()

        return show
