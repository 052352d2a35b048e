"""Tasks the contract tests enqueue on Django's ImmediateBackend and on QStashBackend alike."""

from __future__ import annotations

import sys
from typing import Any

from django_qstash import shared_task

try:
    from django.tasks import TaskContext, task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import TaskContext, task  # type: ignore[no-redef]


def not_a_task(x: int) -> int:
    """A plain function: a message naming it must be refused."""
    return x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The arguments as the function received them."""
    return {"args": list(args), "kwargs": kwargs, "types": [type(a).__name__ for a in args]}


@task
def exit_process(code: int) -> None:
    sys.exit(code)


@task
def close_generator() -> None:
    raise GeneratorExit("closed by the task")


@task
def interrupt() -> None:
    raise KeyboardInterrupt


@task(takes_context=True)
def context_snapshot(context: TaskContext) -> dict[str, Any]:
    """What the running task sees of its own result and task."""
    result = context.task_result
    return {
        "id": result.id,
        "attempt": context.attempt,
        "enqueued_at": result.enqueued_at.isoformat() if result.enqueued_at else None,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "queue_name": result.task.queue_name,
        "run_after": result.task.run_after.isoformat() if result.task.run_after else None,
    }


@shared_task
def shared_exit(code: int) -> None:
    """The @shared_task twin of exit_process: the runner must survive it as well."""
    sys.exit(code)


@shared_task
def shared_pid() -> int:
    import os

    return os.getpid()
