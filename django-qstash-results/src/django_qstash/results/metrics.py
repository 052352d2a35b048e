"""The figures of the dashboard and of ``manage.py qstash_metrics``, over a window of time.

Every query reads an index: the per-task figures and durations the covering index on
``(task_name, date_created, status, attempts, duration)``, the chart the one on ``(status,
date_created)``, the latest failures the one on ``(status, date_done)``, the pending/retrying
counts the one on ``status``. The window is on
``date_created``: a run belongs to the window its message arrived in.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connections, models, router
from django.utils import timezone

from django_qstash.results.models import TaskResult, TaskStatus

#: The windows people choose from: name -> (length, chart bucket in seconds).
WINDOWS: dict[str, tuple[datetime.timedelta, int]] = {
    "1h": (datetime.timedelta(hours=1), 60),
    "24h": (datetime.timedelta(hours=24), 3600),
    "7d": (datetime.timedelta(days=7), 6 * 3600),
}
DEFAULT_WINDOW = "24h"
LATEST_FAILURES = 10
TRACEBACK_LINES = 4


@dataclass
class TaskFigures:
    task_name: str
    runs: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    p50: float | None = None
    p95: float | None = None

    @property
    def failure_rate(self) -> float:
        finished = self.successes + self.failures
        return self.failures / finished if finished else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "failure_rate": round(self.failure_rate, 4)}


@dataclass
class Failure:
    pk: int
    task_id: str
    task_name: str
    date_done: datetime.datetime | None
    error: str
    traceback_head: list[str]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["date_done"] = self.date_done.isoformat() if self.date_done else None
        return data


@dataclass
class Bucket:
    start: datetime.datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Metrics:
    window: str
    since: datetime.datetime
    until: datetime.datetime
    tasks: list[TaskFigures]
    buckets: list[Bucket]
    latest_failures: list[Failure]
    pending: int
    retrying: int

    @property
    def totals(self) -> TaskFigures:
        total = TaskFigures("all tasks")
        for row in self.tasks:
            total.runs += row.runs
            total.successes += row.successes
            total.failures += row.failures
            total.retries += row.retries
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "totals": self.totals.to_json(),
            "tasks": [row.to_json() for row in self.tasks],
            "pending": self.pending,
            "retrying": self.retrying,
            "latest_failures": [f.to_json() for f in self.latest_failures],
            "chart": [
                {"start": b.start.isoformat(), **{k.lower(): v for k, v in b.counts.items()}}
                for b in self.buckets
            ],
        }


def collect(window: str = DEFAULT_WINDOW, *, now: datetime.datetime | None = None) -> Metrics:
    """All the figures for one window (``1h``, ``24h`` or ``7d``)."""
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    length, bucket_seconds = WINDOWS[window]
    until = now or timezone.now()
    since = until - length
    using = router.db_for_read(TaskResult)
    tasks = _task_figures(using, since)
    return Metrics(
        window=window,
        since=since,
        until=until,
        tasks=sorted(tasks, key=lambda t: (-t.failures, -t.failure_rate, -t.runs, t.task_name)),
        buckets=_buckets(using, since, until, bucket_seconds),
        latest_failures=_latest_failures(using, since),
        pending=TaskResult.objects.using(using).filter(status=TaskStatus.PENDING).count(),
        retrying=TaskResult.objects.using(using).filter(status=TaskStatus.RETRY).count(),
    )


# ------------------------------------------------------------------------------ queries


#: The indexes these queries read (models.py names them).
TASK_WINDOW_INDEX = "dqr_taskresult_task_window_idx"
STATUS_CREATED_INDEX = "dqr_taskresult_status_new_idx"
#: Durations read for p50/p95 at most (about): above it, an evenly spread sample of the rows.
PERCENTILE_SAMPLE = 20_000


def _table(using: str, index: str) -> str:
    """The table, read through ``index`` on SQLite. Its planner would pick the single-column
    ``task_name`` or ``status`` index and scan every row of it (PostgreSQL's planner needs no
    hint)."""
    connection = connections[using]
    table = str(connection.ops.quote_name(TaskResult._meta.db_table))
    if connection.vendor == "sqlite":
        return f"{table} INDEXED BY {index}"
    return table


def _db_time(using: str, moment: datetime.datetime) -> Any:
    """A datetime as the database stores ``date_created`` (a naive UTC string on SQLite...)."""
    return models.DateTimeField().get_db_prep_value(moment, connections[using])


def _task_figures(using: str, since: datetime.datetime) -> list[TaskFigures]:
    # (task_name, date_created, ...) lets SQLite skip-scan task by task: no sort for GROUP BY.
    table = _table(using, TASK_WINDOW_INDEX)
    param = _db_time(using, since)
    counts = (
        f"SELECT task_name, COUNT(*), "
        f"SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) "
        f"FROM {table} WHERE date_created >= %s GROUP BY task_name"
    )
    figures: dict[str, TaskFigures] = {}
    with connections[using].cursor() as cursor:
        cursor.execute(counts, [str(TaskStatus.SUCCESS), str(TaskStatus.FAILURE), param])
        for name, runs, successes, failures, retries in cursor.fetchall():
            figures[name] = TaskFigures(
                name, int(runs), int(successes or 0), int(failures or 0), int(retries or 0)
            )
        # p50/p95 by nearest rank, from every duration in the window, or from every k-th row
        # (by id) when the window holds many more rows than PERCENTILE_SAMPLE.
        stride = -(-sum(f.runs for f in figures.values()) // PERCENTILE_SAMPLE)
        sql = f"SELECT task_name, duration FROM {table} WHERE date_created >= %s"
        sql += " AND duration IS NOT NULL"
        params: list[Any] = [param]
        if stride > 1:
            sql += " AND id %% %s = 0"
            params.append(stride)
        cursor.execute(sql, params)
        durations: dict[str, list[float]] = {}
        for name, duration in cursor.fetchall():
            durations.setdefault(name, []).append(float(duration))
    for name, values in durations.items():
        row = figures.get(name)
        if row is not None:
            values.sort()
            row.p50, row.p95 = _nearest_rank(values, 50), _nearest_rank(values, 95)
    return list(figures.values())


def _nearest_rank(ordered: list[float], percent: int) -> float:
    """The value at rank ceil(percent/100 * n) (1-based) of an ordered, non-empty list."""
    count = len(ordered)
    return ordered[count - (count * (100 - percent)) // 100 - 1]


def _buckets(
    using: str, since: datetime.datetime, until: datetime.datetime, seconds: int
) -> list[Bucket]:
    """Outcomes per bucket: index range counts on (status, date_created), one statement per
    status (counting a range reads the index alone; computing a bucket for each of a week's
    rows would read them all)."""
    first = int(_epoch(since)) // seconds * seconds
    last = int(_epoch(until)) // seconds * seconds
    starts = list(range(first, last + 1, seconds))
    edges = [max(since, _from_epoch(start)) for start in starts]
    edges.append(_from_epoch(starts[-1] + seconds))
    bounds = [_db_time(using, edge) for edge in edges]
    table = _table(using, STATUS_CREATED_INDEX)
    part = (
        f"SELECT %s, COUNT(*) FROM {table} WHERE status = %s "
        f"AND date_created >= %s AND date_created < %s"
    )
    sql = " UNION ALL ".join([part] * len(starts))
    counted: dict[int, dict[str, int]] = {}
    with connections[using].cursor() as cursor:
        for status in TaskStatus.values:
            params: list[Any] = []
            for index, start in enumerate(starts):
                params += [start, status, bounds[index], bounds[index + 1]]
            cursor.execute(sql, params)
            for start, count in cursor.fetchall():
                if count:
                    counted.setdefault(int(start), {})[status] = int(count)
    return [Bucket(_from_epoch(start), counted.get(start, {})) for start in starts]


def _from_epoch(seconds: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def _epoch(moment: datetime.datetime) -> float:
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.timezone.utc)
    return moment.timestamp()


def _latest_failures(using: str, since: datetime.datetime) -> list[Failure]:
    rows = (
        TaskResult.objects.using(using)
        .filter(status=TaskStatus.FAILURE, date_done__gte=since)
        .order_by("-date_done")
        .values_list(
            "pk",
            "task_id",
            "task_name",
            "date_done",
            "exception_type",
            "exception_message",
            "traceback",
        )[:LATEST_FAILURES]
    )
    failures = []
    for pk, task_id, name, done, exc_type, message, traceback in rows:
        short_type = exc_type.rsplit(".", 1)[-1] if exc_type else "Error"
        failures.append(
            Failure(
                pk=pk,
                task_id=task_id,
                task_name=name,
                date_done=done,
                error=f"{short_type}: {message}" if message else short_type,
                traceback_head=traceback.splitlines()[:TRACEBACK_LINES] if traceback else [],
            )
        )
    return failures
