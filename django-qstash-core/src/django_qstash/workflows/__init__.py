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


# Hidden from type checkers, which read the imports above: with a module __getattr__ in view,
# they would accept any attribute of this module.
if not TYPE_CHECKING:
    from django_qstash.lazy_names import lazy_names

    _module_getattr, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)

    def __getattr__(name: str) -> Any:
        if name in _SDK_NAMES:
            from django_qstash.workflows.sdk import require_sdk

            return getattr(require_sdk(), name)
        return _module_getattr(name)
