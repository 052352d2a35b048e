"""How the tour is shown: a live table in a terminal, or plain lines and a summary table."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from tour.servers import Stack
from tour.steps import Action, Step, Tour, wait_for
from tour.workflow import summary_lines as workflow_summary

if TYPE_CHECKING:
    from rich.table import Table


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
    return lines + workflow_summary(tour.workflow_runs)


#: The colour of each state, QStash's and Django's.
COLOUR = {
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


def tour_table(steps: list[Step]) -> Table:
    """One row per message. No vertical rules, and the states, step names and tries at their
    full width; the call, message id and result share what is left of the terminal (ellipsized),
    so every column stays readable from 80 columns up."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="django-qstash tour",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        expand=True,
    )
    table.add_column("step", no_wrap=True, style="bold", min_width=9)
    table.add_column("call", no_wrap=True, overflow="ellipsis", style="dim", ratio=4, width=12)
    table.add_column("message id", no_wrap=True, overflow="ellipsis", ratio=2, width=10)
    table.add_column("QStash", no_wrap=True, min_width=9)
    table.add_column("Django", no_wrap=True, min_width=7)
    table.add_column("tries", no_wrap=True, justify="right", min_width=5)
    table.add_column("result", no_wrap=True, overflow="ellipsis", ratio=3, width=10)
    for s in steps:
        table.add_row(
            s.key,
            s.call,
            s.message_id,
            Text(s.qstash, style=COLOUR.get(s.qstash, "")),
            Text(s.django, style=COLOUR.get(s.django, "")),
            str(s.attempts or ""),
            s.result,
        )
    return table


def status_line(tour: Tour) -> str:
    waiting = tour.pending()
    if waiting:
        return f"{tour.elapsed():.1f}s, waiting for {', '.join(waiting)}"
    return "all done"


def live_tour(stack: Stack, actions: list[Action]) -> Tour:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    console = Console()
    log: list[str] = []

    def render() -> Group:
        recent = [Text(line, style="dim", no_wrap=True, overflow="ellipsis") for line in log[-8:]]
        return Group(tour_table(tour.steps), *recent, Text(status_line(tour), style="bold"))

    tour = Tour(stack, log.append, planned=len(actions))
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
