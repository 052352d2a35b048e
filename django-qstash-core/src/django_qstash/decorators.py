"""``@shared_task`` and ``@stashed_task``: the same decorator under two names.

``stashed_task`` lets a module use Celery's ``shared_task`` beside it, each task handled by its
own system.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from django_qstash.registry import registry
from django_qstash.task import Task

P = ParamSpec("P")
R = TypeVar("R")


@overload
def shared_task(func: Callable[P, R], /) -> Task[P, R]: ...


@overload
def shared_task(func: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def shared_task(
    func: Callable[P, R] | None = None, /, **options: Any
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Make a function a django-qstash task; use bare or with options.

    Options: ``name``, ``bind``, ``max_retries``, ``timeout``, ``queue``, ``retry_delay``,
    ``callback``, ``failure_callback``, ``headers``, ``deduplication_id``,
    ``content_based_deduplication``, ``label``, ``flow_control`` and Celery's task options
    (``autoretry_for``, ``retry_backoff``, ``time_limit``, ``rate_limit``, ``base``, ...; see
    ``docs/celery.md`` for what each becomes). A Celery option with no meaning here warns once
    (:class:`~django_qstash.exceptions.IgnoredOptionWarning`), and so does an option it does not
    know, which becomes a task attribute as in Celery. An option that would hide a method of the
    task (``delay=``) raises TypeError.
    """

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        if isinstance(function, Task):
            raise TypeError(f"{function.name} is already a task")
        task_class: type[Task[Any, Any]] = options.pop("base", None) or Task
        task: Task[P, R] = task_class(function, **options)
        registry.register(task)  # type: ignore[arg-type]
        return task

    if func is not None:
        return decorate(func)
    return decorate


stashed_task = shared_task
