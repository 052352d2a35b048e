"""@task functions the backend tests enqueue and deliver (module level, as Django requires)."""

from __future__ import annotations

from typing import Any

try:
    from django.tasks import TaskContext, task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import TaskContext, task  # type: ignore[no-redef]

calls: list[Any] = []


@task
def add(a: int, b: int) -> int:
    calls.append(("add", a, b))
    return a + b


@task(takes_context=True)
def context_info(context: TaskContext, key: str) -> dict[str, Any]:
    info = {
        "key": key,
        "attempt": context.attempt,
        "id": context.task_result.id,
        "status": str(context.task_result.status),
        "worker_ids": list(context.task_result.worker_ids),
    }
    calls.append(("context_info", info))
    return info


@task
def explode(message: str = "boom") -> None:
    calls.append(("explode", message))
    raise ValueError(message)


@task
async def async_add(a: int, b: int) -> int:
    calls.append(("async_add", a, b))
    return a + b


@task(queue_name="emails")
def queued(x: int) -> int:
    return x


@task
def returns_a_set() -> set[int]:
    return {1, 2}


def plain(x: int) -> int:
    """Not a task: tests make tasks of it with task(...)(plain)."""
    calls.append(("plain", x))
    return x


@task
def enqueue_add(a: int, b: int) -> int:
    """Enqueue another task from inside a task (eagerly: it runs at once, with its own result)."""
    inner = add.enqueue(a, b)
    calls.append(("enqueue_add", inner.status, inner.return_value))
    return inner.return_value
