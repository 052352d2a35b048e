"""The registry of workflows, filled by importing every installed app's ``workflows`` module.

Deliveries find a workflow by its URL, which exists only for registered workflows: a request can
never make Django import an arbitrary module.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from django.utils.module_loading import autodiscover_modules

if TYPE_CHECKING:
    from django_qstash.workflows.definition import Workflow

logger = logging.getLogger("django_qstash")

WORKFLOW_MODULE = "workflows"

_workflows: dict[str, Workflow] = {}
_discovered = False
_lock = threading.Lock()


def register(definition: Workflow) -> None:
    existing = _workflows.get(definition.name)
    if existing is not None and existing.function is not definition.function:
        logger.warning(
            "Workflow name %r is registered twice; the last one wins. Give one of them "
            "another name=.",
            definition.name,
        )
    _workflows[definition.name] = definition


def autodiscover() -> None:
    """Import ``<app>.workflows`` of every installed app (once)."""
    global _discovered
    with _lock:
        if not _discovered:
            autodiscover_modules(WORKFLOW_MODULE)
            _discovered = True


def all_workflows() -> list[Workflow]:
    autodiscover()
    return sorted(_workflows.values(), key=lambda definition: definition.name)


def get_workflow(name: str) -> Workflow:
    """The registered workflow called ``name`` (``LookupError`` names the known ones)."""
    autodiscover()
    try:
        return _workflows[name]
    except KeyError:
        known = ", ".join(sorted(_workflows)) or "none"
        raise LookupError(f"no workflow named {name!r} (registered: {known})") from None
