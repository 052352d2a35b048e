"""Tasks defined on a Celery app object (``app = Celery("proj")``, ``@app.task``), as half of
Celery projects define them; only the import block is django-qstash's.

``tests/celery_compat/test_celery_app.py`` loads this source a second time with Celery's imports
(``from celery import ...``) under a real Celery app in eager mode, and checks both give the
same results. Each task records its runs as ``TaskRun`` rows (task, key, value).
"""

from __future__ import annotations

from django_qstash import Celery, chain, chord, current_app, get_task_logger, group
from example.models import TaskRun

app = Celery("example")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = get_task_logger(__name__)


def _record(task: str, key: str, value: object = None) -> None:
    TaskRun.objects.create(task=f"celery_app.{task}", key=key, value=value)


@app.task
def add(x, y):
    return x + y


# delivery_mode and x_team mean nothing to django-qstash: accepted, kept as task attributes, and
# warned about once (IgnoredOptionWarning).
@app.task(bind=True, acks_late=True, delivery_mode=2, x_team="billing")
def square(self, x, key):
    logger.info("squaring %s for %s", x, key)
    _record("square", key, {"x": x, "team": self.x_team})
    return x * x


@current_app.task(name="example.celery_app_style.total", queue="reports")
def total(numbers, key):
    """A chord's body: the header's results, in header order."""
    logger.info("total of %d numbers", len(numbers))
    _record("total", key, numbers)
    return sum(numbers)


@app.task
def fail_on(x, bad, key):
    if x == bad:
        raise ValueError(f"{x} is bad")
    return x


@app.task
def chord_failed(task_id, key):
    """The body's link_error: Celery calls it with the id of the task that failed."""
    _record("chord_failed", key, task_id)


def arithmetic(x):
    """((x + 1) + 2) squared: the chain's result is the last step's."""
    return chain(add.s(x, 1), add.s(2), square.s("chain")).delay()


def sum_of_squares(key, count):
    """One message per number, then the total once all of them are done."""
    return chord(square.s(n, key) for n in range(count))(total.s(key))


def sum_of_squares_piped(key, count):
    """The same chord, written as ``group(...) | task``."""
    return (group(square.s(n, key) for n in range(count)) | total.s(key)).delay()


def failing_chord(key, count, bad):
    """A header task fails for good: the body does not run, its link_error does."""
    body = total.s(key).on_error(chord_failed.s(key))
    return chord(fail_on.s(n, bad, key) for n in range(count))(body)


@app.task
def start_sum_of_squares(key, count):
    """Starts the chord from a task, so the server that runs the header also holds its counter."""
    sum_of_squares(key, count)


@app.task
def start_failing_chord(key, count, bad):
    failing_chord(key, count, bad)
