"""Example tasks of the sample project; each shows one feature."""

from __future__ import annotations

import logging
from importlib.util import find_spec

from django_qstash import shared_task, stashed_task
from example import celery_app_style, celery_style  # noqa: F401 - registers their tasks
from example.models import TaskRun

logger = logging.getLogger(__name__)


@stashed_task
def hello_world(name: str, age: int | None = None, activity: str | None = None) -> str:
    if age is None:
        message = f"Hello {name}! I see you're {activity}."
    else:
        message = f"Hello {name}! I see you're {activity} at {age} years old."
    print(message)
    return message


@shared_task
def hello_world_redux(name: str, age: int | None = None, activity: str | None = None) -> str:
    return hello_world.run(name, age=age, activity=activity)


@stashed_task
def math_add_task(
    a: int, b: int, save_to_file: bool = False, *args: object, **kwargs: object
) -> int:
    logger.info("Adding %s and %s", a, b)
    if save_to_file:
        with open("math-add-result.txt", "w") as f:
            f.write(f"{a} + {b} = {a + b}")
    return a + b


@shared_task
def record(key: str, value: object = None) -> str:
    """Store one TaskRun row: the side effect tests count."""
    TaskRun.objects.create(task="record", key=key, value=value)
    return key


@shared_task
def fail_until(key: str, succeed_on_attempt: int) -> int:
    """Fail until the given attempt (counted by rows), then succeed."""
    TaskRun.objects.create(task="fail_until", key=key)
    attempts = TaskRun.objects.filter(task="fail_until", key=key).count()
    if attempts < succeed_on_attempt:
        raise RuntimeError(f"attempt {attempts} of {key} fails on purpose")
    return attempts


@shared_task(max_retries=0)
def always_fails(key: str) -> None:
    TaskRun.objects.create(task="always_fails", key=key)
    raise ValueError(f"{key} fails for good")


@shared_task
async def async_double(value: int) -> int:
    return value * 2


@shared_task(bind=True)
def bound_info(self, key: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    info = {"id": self.request.id, "retries": self.request.retries, "task": self.request.task}
    TaskRun.objects.create(task="bound_info", key=key, value=info)
    return info


# The same kind of tasks written with Django's @task (Django 6.0+, or the django-tasks backport).
if find_spec("django.tasks") or find_spec("django_tasks"):
    from example.django_tasks import (  # noqa: F401
        async_triple,
        email_users,
        fail_until_attempt,
        record_attempt,
        record_task,
    )
