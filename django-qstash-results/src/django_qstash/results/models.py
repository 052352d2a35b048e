"""What the results app stores: one :class:`TaskResult` per QStash message, and the signatures
already seen (:class:`SeenSignature`), so a replayed request never runs a task again.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from django_qstash import states


class TaskStatus(models.TextChoices):
    """The stored states: core's (``django_qstash.states``), the values Celery uses."""

    PENDING = states.PENDING
    STARTED = states.STARTED
    RETRY = states.RETRY
    SUCCESS = states.SUCCESS
    FAILURE = states.FAILURE


class TaskResult(models.Model):
    """The outcome of one QStash message, updated on each delivery attempt."""

    task_id = models.CharField(
        "task id", max_length=255, unique=True, help_text="The QStash message id."
    )
    task_name = models.CharField("task name", max_length=255)
    request_id = models.CharField(
        "request id",
        max_length=255,
        blank=True,
        default="",
        help_text="The Celery task id the message carries when it is not the message id: the "
        "first message's id after retry(), or task_id= given at publish.",
    )
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    result = models.JSONField(
        null=True,
        blank=True,
        help_text="The return value as JSON, or its repr when it is not JSON (see result_is_repr).",
    )
    result_is_repr = models.BooleanField(
        "result is a repr",
        default=False,
        help_text="The return value was not JSON-serialisable; result holds its repr().",
    )
    exception_type = models.CharField(
        max_length=255, blank=True, default="", help_text="Dotted path of the exception class."
    )
    exception_message = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(
        default=0, help_text="Attempt number of the latest delivery (Upstash-Retried + 1)."
    )
    republished = models.BooleanField(
        default=False,
        help_text="The task called retry(): a new message carries the next attempt.",
    )
    schedule_id = models.CharField(
        "schedule id", max_length=255, blank=True, default="", help_text="Upstash-Schedule-Id."
    )
    # Nullable, so rows written without it (older code during a deploy, SQL) stay valid.
    django_task = models.JSONField(
        "django.tasks task",
        null=True,
        blank=True,
        help_text="For a django.tasks task: when it was enqueued, and the options given with "
        "using() (queue_name, run_after, ...).",
    )
    date_created = models.DateTimeField("created", default=timezone.now)
    date_started = models.DateTimeField("started", null=True, blank=True)
    date_done = models.DateTimeField("done", null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Run time in seconds.")
    # Nullable so that rows written by code that predates the field (a rolling deploy) still fit.
    attempt_errors = models.JSONField(
        "attempts history",
        default=list,
        null=True,
        blank=True,
        help_text="The error of each failed attempt, oldest first: attempt, at, type, message.",
    )

    class Meta:
        # Django's default name, declared: without it, defining the model loads the database
        # backend (to truncate the name) during django.setup().
        db_table = "django_qstash_results_taskresult"
        verbose_name = "task result"
        verbose_name_plural = "task results"
        ordering = ["-date_created"]
        # Named explicitly so that the names are stable (Django ticket #33483).
        indexes = [
            models.Index(fields=["status"], name="dqr_taskresult_status_idx"),
            models.Index(fields=["task_name"], name="dqr_taskresult_name_idx"),
            # Only the rows of retry() and task_id= messages carry a request id.
            models.Index(
                fields=["request_id"],
                name="dqr_taskresult_request_idx",
                condition=~models.Q(request_id=""),
            ),
            models.Index(fields=["date_created"], name="dqr_taskresult_created_idx"),
            models.Index(fields=["date_done"], name="dqr_taskresult_done_idx"),
            # The dashboard: figures per task over a window of date_created (covering, so the
            # aggregates read the index alone), outcomes over time, the latest failures. On
            # PostgreSQL migration 0002 also adds dqr_taskresult_window_pg_idx (date_created
            # INCLUDE ...), which models cannot declare without a warning on SQLite.
            models.Index(
                fields=["task_name", "date_created", "status", "attempts", "duration"],
                name="dqr_taskresult_task_window_idx",
            ),
            models.Index(fields=["status", "date_created"], name="dqr_taskresult_status_new_idx"),
            models.Index(fields=["status", "date_done"], name="dqr_taskresult_status_done_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} {self.status.lower()} [{self.task_id}]"

    @property
    def ready(self) -> bool:
        return self.status in (TaskStatus.SUCCESS, TaskStatus.FAILURE)


class TaskDashboard(TaskResult):
    """The admin's dashboard of task results (a proxy: no table of its own)."""

    class Meta:
        db_table = "django_qstash_results_taskresult"
        proxy = True
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"


class SeenSignature(models.Model):
    """A signature (``jti``) already received; kept until the token expires."""

    jti = models.CharField(max_length=255, primary_key=True)
    task_id = models.CharField("task id", max_length=255)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "django_qstash_results_seensignature"
        verbose_name = "seen signature"
        verbose_name_plural = "seen signatures"

    def __str__(self) -> str:
        return f"{self.jti} (expires {self.expires_at:%Y-%m-%d %H:%M:%S})"


class ChordState(models.TextChoices):
    PENDING = "PENDING"
    #: The header completed and the body was published.
    JOINED = "JOINED"
    #: A header task failed for good; the body's link_error ran.
    FAILED = "FAILED"


class ChordCounter(models.Model):
    """The join of one ``chord``: how many header tasks are still to finish, and the body."""

    chord_id = models.CharField("chord id", max_length=255, unique=True)
    size = models.PositiveIntegerField(help_text="Header tasks in the chord.")
    remaining = models.PositiveIntegerField(help_text="Header tasks not finished yet.")
    state = models.CharField(max_length=10, choices=ChordState.choices, default=ChordState.PENDING)
    body = models.JSONField(help_text="The body's signature, published when the header is done.")
    date_created = models.DateTimeField("created", default=timezone.now, db_index=True)
    date_done = models.DateTimeField("done", null=True, blank=True)

    class Meta:
        db_table = "django_qstash_results_chordcounter"
        verbose_name = "chord counter"
        verbose_name_plural = "chord counters"

    def __str__(self) -> str:
        return f"<Chord: {self.chord_id} ({self.size - self.remaining}/{self.size}, {self.state})>"


class ChordPart(models.Model):
    """One header task's outcome, counted once (unique per chord and position)."""

    counter = models.ForeignKey(ChordCounter, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveIntegerField(help_text="Position in the header.")
    task_id = models.CharField("task id", max_length=255)
    succeeded = models.BooleanField()
    value = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "django_qstash_results_chordpart"
        verbose_name = "chord part"
        verbose_name_plural = "chord parts"
        constraints = [
            models.UniqueConstraint(fields=["counter", "index"], name="dqr_chordpart_unique")
        ]

    def __str__(self) -> str:
        return f"<Chord part {self.index} of {self.counter_id}: {self.task_id}>"
