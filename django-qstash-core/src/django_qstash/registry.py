"""The one registry of tasks, filled as task modules are imported (see ``apps.py``).

The webhook looks tasks up here by registered name; a name nothing registered yet is looked for
by module path inside installed apps' packages only (``discovery.paths``), so a message can
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
        try:
            return self._tasks[name]
        except KeyError:
            raise self.not_registered(name) from None

    def not_registered(self, name: str) -> TaskNotRegistered:
        """The error for a name that no task has."""
        return TaskNotRegistered(
            f"no task named {name!r} is registered, and no module of an installed app "
            "defines a task at that path"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)

    def items(self) -> list[tuple[str, Task[..., object]]]:
        return sorted(self._tasks.items())


registry = TaskRegistry()
