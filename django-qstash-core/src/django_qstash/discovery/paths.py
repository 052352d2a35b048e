"""Find a task by its module path, as Django's Tasks framework does, but only where tasks may be.

A ``django.tasks`` task is known by ``module_path`` (``myapp.reports.build``), and a
``@shared_task`` by its dotted path unless ``name=`` says otherwise. When a message names a task
that no module imported at start-up has registered, :func:`resolve` looks for it:

* the path must be ``<module>.<attribute>``, every part a public Python identifier;
* the module must lie inside the package of an installed app (checked before anything is
  imported, so a message can never make the process import ``os`` or a module outside its apps);
* the module is imported, which registers the tasks it defines, as start-up discovery would;
* the module's attribute must be the very task now registered under that name: a
  ``django.tasks`` task whose backend is a ``QStashBackend`` (only those register) or a
  django-qstash task. A plain function, a class, a nested attribute or a task of another
  backend is refused.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from django.apps import apps

from django_qstash.registry import registry

if TYPE_CHECKING:
    from django_qstash.task import Task

logger = logging.getLogger("django_qstash")

#: Longer names are refused unread (the results app stores names in 255 characters).
MAX_NAME_LENGTH = 255


def split(name: str) -> tuple[str, str] | None:
    """``(module, attribute)`` of a well-formed public dotted path, else None."""
    if len(name) > MAX_NAME_LENGTH:
        return None
    module, _, attribute = name.rpartition(".")
    parts = name.split(".")
    if not module or not all(part.isidentifier() and not part.startswith("_") for part in parts):
        return None
    return module, attribute


def in_installed_app(module: str) -> bool:
    """True when ``module`` is an installed app's package or lies inside one."""
    return any(
        module == config.name or module.startswith(f"{config.name}.")
        for config in apps.get_app_configs()
    )


def find_task(name: str) -> Task[..., Any]:
    """The task registered as ``name``, else the one :func:`resolve` finds at that path; raises
    :class:`~django_qstash.exceptions.TaskNotRegistered` when there is neither."""
    if name in registry:
        return registry.get(name)
    task = resolve(name)
    if task is None:
        raise registry.not_registered(name)
    return task


def resolve(name: str) -> Task[..., Any] | None:
    """The task that ``name`` names by module path, registered now; None when there is none."""
    parts = split(name)
    if parts is None or not in_installed_app(parts[0]):
        return None
    module_name, attribute = parts
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or ""
        if module_name != missing and not module_name.startswith(f"{missing}."):
            # The module exists but fails to import: worth a line in the log.
            logger.warning(
                "django-qstash could not import %s to find task %s: %s", module_name, name, exc
            )
        return None
    except Exception:
        # The app's own module is broken: say so once here; the message is refused as unknown.
        logger.exception("django-qstash could not import %s to find task %s", module_name, name)
        return None
    if name not in registry:
        return None
    task = registry.get(name)
    value = getattr(module, attribute, None)
    if value is None or not _is_registered_as(value, task):
        return None
    return task


def _is_registered_as(value: Any, task: Any) -> bool:
    """Is the module's attribute the task the registry holds (or the django.tasks task that the
    registered adapter wraps)?"""
    if value is task:
        return True
    django_task = getattr(task, "django_task", None)
    return (
        django_task is not None
        and getattr(value, "func", None) is django_task.func
        and getattr(value, "module_path", None) == task.name
    )
