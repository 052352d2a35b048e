"""Durable workflows on Upstash Workflow, served by Django.

Decorate a function in an installed app's ``workflows.py`` with :func:`workflow`, route them all
with ``path("workflows/", include("django_qstash.workflows.urls"))``, start a run with
``my_workflow.trigger(payload)``. Needs the official SDK: ``pip install
"django-qstash-core[workflows]"``. Importing this package is cheap: the SDK is imported on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "AsyncWorkflowContext",
    "CallResponse",
    "Workflow",
    "WorkflowContext",
    "cancel_run",
    "get_workflow",
    "workflow",
]
#: Re-exported from the SDK, so a missing SDK fails here with the extra's name.
_SDK_NAMES = frozenset({"AsyncWorkflowContext", "CallResponse", "WorkflowContext"})

if TYPE_CHECKING:
    from upstash_workflow import AsyncWorkflowContext, CallResponse, WorkflowContext

    from django_qstash.workflows.definition import Workflow, workflow
    from django_qstash.workflows.registry import get_workflow
    from django_qstash.workflows.runs import cancel_run

_LAZY = {
    "Workflow": "django_qstash.workflows.definition",
    "workflow": "django_qstash.workflows.definition",
    "get_workflow": "django_qstash.workflows.registry",
    "cancel_run": "django_qstash.workflows.runs",
}


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        from django_qstash.workflows.sdk import require_sdk

        return getattr(require_sdk(), name)
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'django_qstash.workflows' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
