"""The django-qstash tour: the whole loop on this machine, in one command (``make demo``).

    python sample_project/demo.py           the tour: start the QStash dev server and the sample
                                            project, enqueue the example tasks, show every
                                            delivery and its outcome live, stop both, exit 0
    python sample_project/demo.py --plain   the same, one line per state change and a summary
                                            table (chosen by itself when NO_COLOR or CI is set,
                                            or when stdout is not a terminal)
    python sample_project/demo.py --serve   ``make run``: start both servers on the sample
                                            project's own database and leave them running

The tour uses a throw-away SQLite database and free loopback ports, so it never touches
``db.sqlite3`` or anything already listening; ``--workdir DIR`` keeps its files (databases and
server logs) in DIR instead of a temporary directory.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django_qstash.devserver.process import free_port, stop_process, wait_until

SAMPLE_PROJECT = Path(__file__).resolve().parent
MANAGE = SAMPLE_PROJECT / "manage.py"

#: Retry waits of the dev server, scaled: QStash's backoff (12 s, 148 s, ...) becomes 0.24 s,
#: 3 s, ..., slow enough to watch a retry happen and fast enough for a two-minute demo.
RETRY_SCALE = 0.02
#: One cron minute of the dev server lasts this many seconds during the tour.
CRON_TICK = 2.0
#: Seconds the countdown task waits before QStash delivers it.
COUNTDOWN = 4
#: The whole tour gives up after this many seconds (the demo must finish within two minutes).
TOUR_TIMEOUT = 60.0
#: Seconds between two publishes of the tour, to follow each task on its own.
STEP_PAUSE = 0.4

FINAL_QSTASH = {"DELIVERED", "FAILED", "CANCELED"}
FINAL_DJANGO = {"SUCCESS", "FAILURE"}


# ====================================================================== processes


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Server:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=SAMPLE_PROJECT,
            )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"the {self.name} exited with status {self.process.returncode}:\n{self.tail()}"
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


@dataclass
class Stack:
    """The two servers of the loop and the settings a Django process needs to use them."""

    workdir: Path
    database_url: str
    qstash_port: int
    django_port: int
    devserver_flags: list[str]
    qstash_db: Path
    servers: list[Server] = field(default_factory=list)
    qstash_url: str = ""
    token: str = ""
    current_key: str = ""
    next_key: str = ""

    @property
    def django_url(self) -> str:
        return f"http://127.0.0.1:{self.django_port}"

    def django_env(self) -> dict[str, str]:
        """The sample project's settings (see .env.sample) pointing at these two servers."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "DJANGO_SETTINGS_MODULE" and not key.startswith("PYTEST_")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="cfehome.settings",
            PYTHONUNBUFFERED="1",
            DATABASE_URL=self.database_url,
            QSTASH_URL=self.qstash_url or f"http://127.0.0.1:{self.qstash_port}",
            DJANGO_QSTASH_DOMAIN=self.django_url,
            DJANGO_QSTASH_FORCE_HTTPS="0",
            DJANGO_QSTASH_ALWAYS_EAGER="0",
            # A PENDING row as soon as a task is published, so the tour (and the admin) show
            # tasks that are still waiting for QStash, such as the countdown.
            DJANGO_QSTASH_RESULTS_STORE_PENDING="1",
        )
        if self.token:
            env.update(
                QSTASH_TOKEN=self.token,
                QSTASH_CURRENT_SIGNING_KEY=self.current_key,
                QSTASH_NEXT_SIGNING_KEY=self.next_key,
            )
        return env

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env={**self.django_env(), **(env or {})},
            cwd=SAMPLE_PROJECT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode:
            command = " ".join(args)
            raise RuntimeError(f"manage.py {command} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def start_devserver(self) -> None:
        log = self.workdir / "qstash-devserver.log"
        offset = log.stat().st_size if log.exists() else 0
        server = Server(
            "QStash dev server",
            [
                sys.executable,
                "-m",
                "django_qstash.devserver",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.qstash_port),
                "--db",
                str(self.qstash_db),
                *self.devserver_flags,
            ],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
            log,
        )
        self.servers.append(server)
        server.start()

        def banner() -> str | None:
            server.check_alive()
            text = log.read_bytes()[offset:].decode(errors="replace")
            return text if "QSTASH_NEXT_SIGNING_KEY=" in text else None

        text = wait_until(banner, timeout=20, what="the QStash dev server to start")
        match = re.search(r"running at (http://\S+)", text)
        if match is None:
            raise RuntimeError(f"the dev server printed no address:\n{text}")
        self.qstash_url = match.group(1)
        self.token = _banner_value(text, "QSTASH_TOKEN")
        self.current_key = _banner_value(text, "QSTASH_CURRENT_SIGNING_KEY")
        self.next_key = _banner_value(text, "QSTASH_NEXT_SIGNING_KEY")

    def start_django(self, *, debug: bool) -> None:
        env = self.django_env()
        env["DJANGO_DEBUG"] = "1" if debug else "0"
        server = Server(
            "sample project",
            [
                sys.executable,
                str(MANAGE),
                "runserver",
                "--noreload",
                "--skip-checks",
                f"127.0.0.1:{self.django_port}",
            ],
            env,
            self.workdir / "django.log",
        )
        self.servers.append(server)
        server.start()

        def ready() -> bool:
            server.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.django_port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_until(ready, timeout=30, what=f"the sample project on {self.django_url}")

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ({s.log_path}) ---\n{s.tail()}" for s in self.servers)


def _banner_value(banner: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", banner, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{name} missing from the dev server's banner:\n{banner}")
    return match.group(1)


@contextmanager
def stopped_on_exit(stack: Stack) -> Iterator[Stack]:
    """Stop every server the stack started, however the block ends (Ctrl-C and SIGTERM too)."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield stack
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)


# ====================================================================== the tour


@dataclass
class Step:
    """One row of the tour: one QStash message, and what became of it."""

    key: str
    call: str
    message_id: str
    task_name: str = ""
    qstash: str = "-"
    django: str = "-"
    attempts: int = 0
    result: str = ""

    @property
    def group(self) -> str:
        return self.key.split(".")[0]

    @property
    def done(self) -> bool:
        return self.qstash in FINAL_QSTASH and self.django in FINAL_DJANGO


@dataclass
class Action:
    """Something the tour does to show a feature: publish a task, start a chain, a schedule."""

    key: str
    call: str
    run: Callable[[Tour], None]


def build_actions(run_id: str) -> list[Action]:
    """What the tour does, in order. Features that are not installed are left out."""
    from example import tasks

    def key(name: str) -> str:
        return f"{name}-{run_id}"

    def publish(step: str, call: str, send: Callable[[], Any]) -> Action:
        return Action(step, call, lambda tour: tour.track(step, call, send().id))

    actions = [
        publish(
            "plain", "math_add_task.delay(12, 454)", lambda: tasks.math_add_task.delay(12, 454)
        ),
        publish(
            "countdown",
            f'hello_world.apply_async(args=("Tony Stark",), countdown={COUNTDOWN})',
            lambda: tasks.hello_world.apply_async(
                args=("Tony Stark",), kwargs={"activity": "building in a cave"}, countdown=COUNTDOWN
            ),
        ),
        publish(
            "retry",
            "fail_until.delay(key, succeed_on_attempt=3)",
            lambda: tasks.fail_until.delay(key("retry"), succeed_on_attempt=3),
        ),
        publish(
            "fails",
            "always_fails.delay(key)  # max_retries=0",
            lambda: tasks.always_fails.delay(key("fails")),
        ),
        publish(
            "bound",
            "bound_info.delay(key)  # bind=True",
            lambda: tasks.bound_info.delay(key("bound")),
        ),
        publish(
            "async", "async_double.delay(21)  # async def", lambda: tasks.async_double.delay(21)
        ),
    ]
    if _importable("example.django_tasks"):
        from example.django_tasks import record_task

        actions.append(
            publish(
                "djtask",
                "record_task.enqueue(key)  # django.tasks",
                lambda: record_task.enqueue(key("djtask")),
            )
        )
    if _importable("django_qstash.canvas"):
        actions.append(
            Action(
                "chain",
                "chain(math_add_task.s(2, 2), math_add_task.s(4), math_add_task.s(8)).delay()",
                start_chain,
            )
        )
    if _importable("django_qstash.schedules.models"):
        actions.append(
            Action(
                "cron",
                "TaskSchedule(cron='* * * * *', task_name='example.tasks.record')",
                lambda tour: start_schedule(tour, key("cron")),
            )
        )
    return actions


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def start_chain(tour: Tour) -> None:
    """Celery's canvas: each step is published by QStash's callback of the step before, with
    the step's result prepended to the next one's arguments: (2 + 2) + 4, then + 8."""
    from django_qstash.canvas import chain
    from example.tasks import math_add_task

    add = math_add_task
    last = chain(add.s(2, 2), add.s(4), add.s(8)).delay()
    first = last.parent.parent  # .delay() returns the last step's result, as in Celery
    # Every step's task id is assigned now; the steps are found by it as QStash creates them.
    tour.chains[first.id] = "chain"
    tour.expected["chain"] = 3


def start_schedule(tour: Tour, key: str) -> None:
    """A cron schedule: saved in the database, pushed to QStash, fired by QStash every minute
    (every CRON_TICK seconds on the tour's dev server). Paused once it has run twice."""
    from django_qstash.schedules.models import TaskSchedule

    schedule = TaskSchedule.objects.create(
        name=f"tour {key}", cron="* * * * *", task_name="example.tasks.record", args=[key]
    )
    schedule.refresh_from_db()
    if schedule.sync_error:
        raise RuntimeError(f"the schedule did not reach QStash: {schedule.sync_error}")
    tour.schedules[schedule.schedule_id] = "cron"
    tour.expected["cron"] = 2
    tour.say(f"{tour.elapsed():6.2f}s  {'cron':<10} publish    schedule {schedule.schedule_id}")

    def pause_after_two_runs() -> bool:
        runs = [s for s in tour.steps if s.group == "cron"]
        if len([s for s in runs if s.done]) < 2:
            return False
        schedule.is_active = False
        schedule.save()
        schedule.refresh_from_db()
        tour.say(f"{tour.elapsed():6.2f}s  {'cron':<10} pause      schedule {schedule.schedule_id}")
        return True

    tour.settlers.append(pause_after_two_runs)


class Tour:
    """Run the actions, then follow every message through the dev server's log and the results
    table, until each has reached its final state."""

    def __init__(self, stack: Stack, say: Callable[[str], None]) -> None:
        import httpx

        self.stack = stack
        self.say = say
        self.steps: list[Step] = []
        #: The least number of messages (steps) a group must reach: a chain's length, say.
        self.expected: dict[str, int] = {}
        #: Chain root message id -> group; schedule id -> group (to find their later messages).
        self.chains: dict[str, str] = {}
        self.schedules: dict[str, str] = {}
        #: Called on every poll until they return True (e.g. pause the schedule after two runs).
        self.settlers: list[Callable[[], bool]] = []
        self.started = time.monotonic()
        self.seen_events: set[str] = set()
        self.http = httpx.Client(
            base_url=stack.qstash_url,
            headers={"Authorization": f"Bearer {stack.token}"},
            trust_env=False,
            timeout=10,
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, step: Step, source: str, state: str, detail: str = "") -> None:
        text = f"{self.elapsed():6.2f}s  {step.key:<10} {source:<7} {state:<10} {detail}"
        self.say(text.rstrip())

    def track(self, key: str, call: str, message_id: str) -> Step:
        step = Step(key, call, message_id)
        self.steps.append(step)
        self.line(step, "publish", "", f"{call} -> {message_id}")
        return step

    def run(self, actions: list[Action], redraw: Callable[[], None] = lambda: None) -> None:
        """Run the actions one by one, a moment apart, so that each can be followed."""
        for action in actions:
            action.run(self)
            pause = time.monotonic() + STEP_PAUSE
            while time.monotonic() < pause:
                self.poll()
                redraw()
                time.sleep(0.05)

    def discover(self, event: dict[str, Any]) -> Step | None:
        """A message the tour did not publish itself: a later step of a chain, or a cron run."""
        if event.get("state") != "CREATED":
            return None
        group = self.schedules.get(event.get("scheduleId") or "")
        body: dict[str, Any] = {}
        with suppress(ValueError):
            body = json.loads(base64.b64decode(event.get("body") or ""))
        if not isinstance(body, dict):
            return None
        task = str(body.get("task", "")).rsplit(".", 1)[-1]
        args = ", ".join(json.dumps(a) for a in body.get("args", []))
        if group:
            n = len([s for s in self.steps if s.group == group]) + 1
            return self.track(
                f"{group}.{n}", f"{task}({args})  # fired by QStash", event["messageId"]
            )
        options = body.get("options") or {}
        group = self.chains.get(str(options.get("task_id", "")))
        if group and "root_id" not in options:  # the chain's first step
            return self.track(f"{group}.1", f"{task}.s({args})", event["messageId"])
        group = self.chains.get(str(options.get("root_id", "")))
        if group:
            n = len([s for s in self.steps if s.group == group]) + 1
            return self.track(
                f"{group}.{n}", f"{task}({args})  # from the callback", event["messageId"]
            )
        return None

    def poll(self) -> None:
        from django_qstash.results.models import TaskResult

        by_id = {step.message_id: step for step in self.steps}
        response = self.http.get("/v2/events", params={"count": 1000})
        response.raise_for_status()
        for event in reversed(response.json()["events"]):
            identity = json.dumps(event, sort_keys=True)
            if identity in self.seen_events:
                continue
            step = by_id.get(event.get("messageId", ""))
            if step is None:
                step = self.discover(event)
                if step is None:
                    continue
                by_id[step.message_id] = step
            self.seen_events.add(identity)
            step.qstash = event["state"]
            detail = ""
            if event["state"] in ("RETRY", "FAILED", "DELIVERED") and event.get("responseStatus"):
                detail = f"HTTP {event['responseStatus']}"
            if event["state"] == "FAILED" and event.get("dlqId"):
                detail += f", dead-letter queue {event['dlqId']}"
            self.line(step, "qstash", event["state"], detail)

        for row in TaskResult.objects.filter(task_id__in=list(by_id)):
            step = by_id[row.task_id]
            result = describe_result(row)
            if (row.status, row.attempts, result) != (step.django, step.attempts, step.result):
                step.task_name = row.task_name
                step.django, step.attempts, step.result = row.status, row.attempts, result
                self.line(step, "django", row.status, f"attempt {row.attempts}: {result}")
        self.settlers = [settle for settle in self.settlers if not settle()]

    def pending(self) -> list[str]:
        waiting = [step.key for step in self.steps if not step.done]
        for group, count in self.expected.items():
            if len([s for s in self.steps if s.group == group]) < count:
                waiting.append(f"{group} ({count} runs)")
        return waiting + ["cron (pause)" for _ in self.settlers]

    def dead_letters(self) -> list[dict[str, Any]]:
        response = self.http.get("/v2/dlq")
        response.raise_for_status()
        return list(response.json()["messages"])


def describe_result(row: Any) -> str:
    """What a TaskResult row says the task returned (or raised), on one line."""
    if row.status == "FAILURE" or (row.status == "RETRY" and row.exception_type):
        return f"{row.exception_type.rsplit('.', 1)[-1]}: {row.exception_message}"
    if row.status == "SUCCESS":
        return json.dumps(row.result, sort_keys=True)
    if row.status == "PENDING":
        return "published, waiting for QStash"
    return ""


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


def run_tour(stack: Stack, *, plain: bool) -> int:
    setup_django(stack)
    actions = build_actions(uuid.uuid4().hex[:8])
    if plain:
        tour = Tour(stack, lambda text: print(text, flush=True))
        tour.run(actions)
        wait_for(tour, stack)
        dead = tour.dead_letters()
        print("\n".join(summary_lines(tour, dead)), flush=True)
    else:
        tour = live_tour(stack, actions)
    waiting = tour.pending()
    if waiting:
        print(f"the tour timed out waiting for: {', '.join(waiting)}\n{stack.logs()}")
        return 1
    return 0


def wait_for(tour: Tour, stack: Stack, redraw: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + TOUR_TIMEOUT
    while True:
        tour.poll()
        redraw()
        if not tour.pending() or time.monotonic() > deadline:
            return
        for server in stack.servers:
            server.check_alive()
        time.sleep(0.1)


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


def setup_django(stack: Stack) -> None:
    """Configure this process as one more client of the sample project (same settings, same DB)."""
    os.environ.update(stack.django_env())
    if str(SAMPLE_PROJECT) not in sys.path:
        sys.path.insert(0, str(SAMPLE_PROJECT))
    import django

    django.setup()


# ====================================================================== entry points


def tour_main(args: argparse.Namespace) -> int:
    keep = args.workdir is not None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="django-qstash-demo-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        workdir=workdir,
        database_url=f"sqlite:///{workdir / 'db.sqlite3'}",
        qstash_port=free_port(),
        django_port=free_port(),
        devserver_flags=["--retry-scale", str(RETRY_SCALE), "--cron-tick", str(CRON_TICK)],
        qstash_db=workdir / "qstash-dev.db",
    )
    say = print if args.plain else _rich_print
    code = 1
    try:
        with stopped_on_exit(stack):
            say("migrating a fresh SQLite database ...")
            stack.manage("migrate", "--no-input", "-v", "0")
            stack.start_devserver()
            say(f"QStash dev server at {stack.qstash_url}")
            stack.start_django(debug=False)
            say(f"sample project at {stack.django_url} (webhook at /qstash/webhook/)")
            code = run_tour(stack, plain=args.plain)
    except KeyboardInterrupt:
        print("\ninterrupted; both servers stopped")
        code = 130
    except Exception as exc:
        print(f"the demo failed: {exc}\n{stack.logs()}", file=sys.stderr)
        code = 1
    finally:
        if keep:
            say(f"files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    say("both servers stopped" + ("" if code else "; the tour is over"))
    return code


def serve_main(args: argparse.Namespace) -> int:
    """``make run``: both servers on the project's own settings, until Ctrl-C."""
    qstash_port = 8080 if port_is_free(8080) else free_port()
    django_port = 8000 if port_is_free(8000) else free_port()
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
                + "\n\nTry it in another terminal:\n"
                f"  cd sample_project && DJANGO_QSTASH_DOMAIN={stack.django_url} "
                f"QSTASH_URL={stack.qstash_url} \\\n"
                "    python manage.py shell -c "
                "'from example.tasks import math_add_task; print(math_add_task.delay(2, 3))'\n"
                "then watch the result appear under Task results in the admin.\n"
                "Ctrl-C stops both servers.",
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


def _rich_print(text: str) -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", action="store_true", help="no colour, no live redraw")
    parser.add_argument("--serve", action="store_true", help="start both servers and keep them")
    parser.add_argument("--workdir", help="keep the tour's databases and logs in this directory")
    args = parser.parse_args(argv)
    if args.serve:
        return serve_main(args)
    args.plain = wants_plain(args.plain)
    return tour_main(args)


if __name__ == "__main__":
    sys.exit(main())
