"""Task discovery: import each installed app's task modules so their tasks register."""

from __future__ import annotations

from importlib import import_module

from django.utils.module_loading import autodiscover_modules

from django_qstash.registry import registry

#: Module names imported from every installed app (``tasks.py`` or a ``tasks/`` package).
TASK_MODULES = ("tasks",)


#: Further packages whose task modules are imported too (``Celery.autodiscover_tasks(...)``).
extra_task_modules: list[str] = []


def autodiscover() -> None:
    """Import ``<app>.tasks`` for every installed app; tasks register as they are defined."""
    autodiscover_modules(*TASK_MODULES)
    for module_name in extra_task_modules:
        import_task_module(module_name)


def import_task_module(module_name: str) -> None:
    """Import ``package.tasks``; a package without that module is skipped, as in Celery."""
    try:
        import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise  # the module exists but one of its own imports is missing


def discover_tasks(paths_only: bool = False) -> list[str] | list[tuple[str, str]]:
    """All registered tasks, sorted by name.

    ``paths_only=True`` gives the registered names (by default the dotted import path, as in
    Celery) that a schedule stores and a message carries. Otherwise each entry is a
    ``(name, label)`` pair, ready to be form choices.
    """
    autodiscover()
    if paths_only:
        return list(registry)
    return [(name, f"{task.run.__name__} ({name})") for name, task in registry.items()]
