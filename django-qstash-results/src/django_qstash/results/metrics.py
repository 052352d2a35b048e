"""The figures of the dashboard and of ``manage.py qstash_metrics``, over a window of time.

Every query reads an index: the per-task figures and the chart read the covering index on
``(date_created, task_name, status, duration, attempts)``, the latest failures the one on
``(status, date_done)``, the pending/retrying counts the one on ``status``. The window is on
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


#: The covering index the window queries read (models.py names it).
WINDOW_INDEX = "dqr_taskresult_window_idx"


def _table(using: str) -> str:
    """The table to read a window from. SQLite's planner prefers the ``task_name`` index for a
    GROUP BY task_name and then scans every row; ``INDEXED BY`` keeps it on the range of the
    window (PostgreSQL's planner picks the range by itself)."""
    connection = connections[using]
    table = str(connection.ops.quote_name(TaskResult._meta.db_table))
    if connection.vendor == "sqlite":
        return f"{table} INDEXED BY {WINDOW_INDEX}"
    return table


def _since_param(using: str, since: datetime.datetime) -> Any:
    """``since`` as the database stores ``date_created`` (a naive UTC string on SQLite...)."""
    return models.DateTimeField().get_db_prep_value(since, connections[using])


def _task_figures(using: str, since: datetime.datetime) -> list[TaskFigures]:
    table = _table(using)
    param = _since_param(using, since)
    counts = (
        f"SELECT task_name, COUNT(*), "
        f"SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN status = %s THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END) "
        f"FROM {table} WHERE date_created >= %s GROUP BY task_name"
    )
    # Nearest-rank percentiles (rank ceil(p * n), written n - floor(n * (1 - p))) with window
    # functions (SQLite 3.25+, PostgreSQL, MySQL 8): one
    # sort in the database instead of every duration in Python.
    ranks = (
        f"SELECT task_name, duration, rn, n FROM ("
        f"SELECT task_name, duration, "
        f"ROW_NUMBER() OVER (PARTITION BY task_name ORDER BY duration) AS rn, "
        f"COUNT(*) OVER (PARTITION BY task_name) AS n "
        f"FROM {table} WHERE date_created >= %s AND duration IS NOT NULL) ranked "
        # Integer division truncates on SQLite and PostgreSQL alike (CAST rounds on PostgreSQL).
        f"WHERE rn = n - (n * 50) / 100 OR rn = n - (n * 5) / 100"
    )
    figures: dict[str, TaskFigures] = {}
    with connections[using].cursor() as cursor:
        cursor.execute(counts, [str(TaskStatus.SUCCESS), str(TaskStatus.FAILURE), param])
        for name, runs, successes, failures, retries in cursor.fetchall():
            figures[name] = TaskFigures(
                name, int(runs), int(successes or 0), int(failures or 0), int(retries or 0)
            )
        cursor.execute(ranks, [param])
        for name, duration, rank, count in cursor.fetchall():
            row = figures.get(name)
            if row is None:
                continue
            if rank == count - (count * 50) // 100:
                row.p50 = float(duration)
            if rank == count - (count * 5) // 100:
                row.p95 = float(duration)
    return list(figures.values())


def _bucket_expression(vendor: str, seconds: int) -> str:
    """SQL for the start of a row's chart bucket, as seconds since the epoch (UTC)."""
    if vendor == "postgresql":
        return f"(FLOOR(EXTRACT(EPOCH FROM date_created) / {seconds}) * {seconds})"
    if vendor == "sqlite":
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC (USE_TZ) or local time.
        epoch = "CAST(strftime('%%s', substr(date_created, 1, 19)) AS INTEGER)"
        return f"({epoch} / {seconds} * {seconds})"
    if vendor == "mysql":
        return f"(FLOOR(UNIX_TIMESTAMP(date_created) / {seconds}) * {seconds})"
    raise NotImplementedError(f"the dashboard's chart does not support {vendor}")


def _buckets(
    using: str, since: datetime.datetime, until: datetime.datetime, seconds: int
) -> list[Bucket]:
    table = _table(using)
    connection = connections[using]
    param = _since_param(using, since)
    expression = _bucket_expression(connection.vendor, seconds)
    sql = (
        f"SELECT {expression} AS bucket, status, COUNT(*) FROM {table} "
        f"WHERE date_created >= %s GROUP BY bucket, status"
    )
    counted: dict[int, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [param])
        for bucket, status, count in cursor.fetchall():
            counted.setdefault(int(bucket), {})[status] = int(count)
    first = int(_epoch(since)) // seconds * seconds
    last = int(_epoch(until)) // seconds * seconds
    return [
        Bucket(
            datetime.datetime.fromtimestamp(start, tz=datetime.timezone.utc),
            counted.get(start, {}),
        )
        for start in range(first, last + 1, seconds)
    ]


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
