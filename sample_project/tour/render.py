"""How the tour is shown: a live table in a terminal, or plain lines and a summary table."""

from __future__ import annotations

import os
import sys
from typing import Any

from tour.servers import Stack
from tour.steps import Action, Tour, wait_for


def summary_lines(tour: Tour, dead: list[dict[str, Any]]) -> list[str]:
    columns = ["step", "task", "message id", "qstash", "django", "attempts", "result"]
    lines = ["== summary ==", " | ".join(columns)]
    for s in tour.steps:
        values = [s.key, s.task_name, s.message_id, s.qstash, s.django, str(s.attempts), s.result]
        lines.append(" | ".join(values))
    lines.append("== dead-letter queue ==")
    lines += [f"{entry['messageId']} | {entry.get('dlqId', '')}" for entry in dead]
    if tour.schedules:
        from django_qstash.schedules.models import TaskSchedule

        lines.append("== schedules ==")
        for schedule in TaskSchedule.objects.filter(schedule_id__in=list(tour.schedules)):
            state = "active" if schedule.is_active else "paused"
            lines.append(
                f"{schedule.schedule_id} | {schedule.cron} | {schedule.task_name} | {state}"
            )
    return lines


def live_tour(stack: Stack, actions: list[Action]) -> Tour:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.table import Table
    from rich.text import Text

    console = Console()
    log: list[str] = []
    colour = {
        "SUCCESS": "green",
        "DELIVERED": "green",
        "FAILURE": "red",
        "FAILED": "red",
        "RETRY": "yellow",
        "ERROR": "yellow",
        "STARTED": "cyan",
        "ACTIVE": "cyan",
        "PENDING": "dim",
        "CREATED": "dim",
    }

    def render() -> Group:
        table = Table(title="django-qstash tour", expand=False)
        table.add_column("step", no_wrap=True, style="bold", min_width=9)
        table.add_column("call", overflow="ellipsis", no_wrap=True, max_width=44, style="dim")
        table.add_column("message id", overflow="ellipsis", no_wrap=True, max_width=14)
        table.add_column("QStash", no_wrap=True, min_width=9)
        table.add_column("Django", no_wrap=True, min_width=7)
        table.add_column("tries", justify="right", min_width=5)
        table.add_column("result", overflow="ellipsis", no_wrap=True, max_width=36)
        for s in tour.steps:
            table.add_row(
                s.key,
                s.call,
                s.message_id,
                Text(s.qstash, style=colour.get(s.qstash, "")),
                Text(s.django, style=colour.get(s.django, "")),
                str(s.attempts or ""),
                s.result,
            )
        waiting = tour.pending()
        status = (
            f"{tour.elapsed():.1f}s, waiting for {', '.join(waiting)}" if waiting else "all done"
        )
        return Group(table, Text("\n".join(log[-8:]), style="dim"), Text(status, style="bold"))

    tour = Tour(stack, log.append)
    with Live(render(), console=console, refresh_per_second=8) as live:
        redraw = lambda: live.update(render())  # noqa: E731
        tour.run(actions, redraw)
        wait_for(tour, stack, redraw)
    dead = tour.dead_letters()
    for entry in dead:
        console.print(
            f"[red]dead-letter queue:[/red] {entry['messageId']} "
            f"({entry.get('error') or entry.get('responseStatus')})"
        )
    console.print(
        "\nEvery row above is a real HTTP round trip: .delay() published to the QStash dev "
        f"server ({stack.qstash_url}), which delivered a signed POST to the sample project's "
        f"webhook ({stack.django_url}/qstash/webhook/); the results app stored each outcome.\n"
        "Run [bold]make run[/bold] to start both servers and explore the admin yourself."
    )
    return tour


def rich_print(text: str) -> None:
    try:
        from rich.console import Console
    except ImportError:
        print(text, flush=True)
        return
    Console().print(text, style="dim", highlight=False)


def wants_plain(explicit: bool) -> bool:
    if explicit or os.environ.get("NO_COLOR") or os.environ.get("CI"):
        return True
    if not sys.stdout.isatty():
        return True
    try:
        import rich  # noqa: F401
    except ImportError:
        return True
    return False
