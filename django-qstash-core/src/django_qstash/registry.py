"""The one registry of tasks, filled as task modules are imported (see ``apps.py``).

The webhook looks tasks up here by registered name. A name nothing has registered yet is looked
for by module path, inside installed apps' packages only (``discovery.paths``), so a message can
never make the process import an arbitrary module.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from django_qstash.exceptions import TaskNotRegistered

if TYPE_CHECKING:
    from django_qstash.task import Task

logger = logging.getLogger("django_qstash")


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, Task[..., object]] = {}

    def register(self, task: Task[..., object]) -> None:
        existing = self._tasks.get(task.name)
        if existing is not None and existing.qualified_path != task.qualified_path:
            logger.warning(
                "Task name %r is registered twice (%s and %s); the last one wins. "
                "Give one of them another name=.",
                task.name,
                existing.qualified_path,
                task.qualified_path,
            )
        self._tasks[task.name] = task

    def unregister(self, name: str) -> None:
        self._tasks.pop(name, None)

    def get(self, name: str) -> Task[..., object]:
        """The task registered as ``name``, or found by that module path in an installed app."""
        task = self._tasks.get(name)
        if task is not None:
            return task
        from django_qstash.discovery.paths import resolve

        task = resolve(name, self)
        if task is None:
            raise TaskNotRegistered(
                f"no task named {name!r} is registered, and no installed app's module defines "
                "a task at that path"
            )
        return task

    def registered(self, name: str) -> Task[..., object]:
        """The task registered as ``name``, without looking anywhere else (KeyError)."""
        return self._tasks[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def items(self) -> list[tuple[str, Task[..., object]]]:
        return sorted(self._tasks.items())


registry = TaskRegistry()
