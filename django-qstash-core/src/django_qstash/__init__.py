"""django-qstash: Celery-style background tasks for Django, delivered by Upstash QStash.

Importing this package is cheap and touches neither settings nor the network: the public
names below are loaded on first use.
"""

from __future__ import annotations

# django_qstash.results and django_qstash.schedules ship in their own distributions; in an
# editable (workspace) install each lives in its own source directory, so the package path
# must span them all. Extended in place so the module spec (used by tools) sees them too.
from pkgutil import extend_path
from typing import TYPE_CHECKING

__path__[:] = extend_path(__path__, __name__)

__version__ = "0.10.0"
__all__ = [
    "AsyncResult",
    "Celery",
    "EagerResult",
    "GroupResult",
    "QStashMessage",
    "Signature",
    "Task",
    "apublish",
    "apublish_batch",
    "chain",
    "chord",
    "current_app",
    "get_task_logger",
    "group",
    "publish",
    "publish_batch",
    "shared_task",
    "signature",
    "stashed_task",
    "verify_qstash",
    "verify_qstash_request",
]

if TYPE_CHECKING:
    from django_qstash.app import Celery, current_app
    from django_qstash.canvas import Signature, chain, chord, group, signature
    from django_qstash.decorators import shared_task, stashed_task
    from django_qstash.log import get_task_logger
    from django_qstash.outbound import apublish, apublish_batch, publish, publish_batch
    from django_qstash.receiving import QStashMessage, verify_qstash, verify_qstash_request
    from django_qstash.result import AsyncResult, EagerResult, GroupResult
    from django_qstash.task import Task

_LAZY = {
    "shared_task": "django_qstash.decorators",
    "stashed_task": "django_qstash.decorators",
    "Task": "django_qstash.task",
    "AsyncResult": "django_qstash.result",
    "EagerResult": "django_qstash.result",
    "GroupResult": "django_qstash.result",
    # Celery's canvas, so `from celery import chain, group` changes only its import.
    "Signature": "django_qstash.canvas",
    "chain": "django_qstash.canvas",
    "group": "django_qstash.canvas",
    "signature": "django_qstash.canvas",
    # Publishing to any URL, and receiving QStash messages in views of your own.
    "publish": "django_qstash.outbound",
    "apublish": "django_qstash.outbound",
    "publish_batch": "django_qstash.outbound",
    "apublish_batch": "django_qstash.outbound",
    "QStashMessage": "django_qstash.receiving",
    "verify_qstash": "django_qstash.receiving",
    "verify_qstash_request": "django_qstash.receiving",
    "chord": "django_qstash.canvas",
    # Celery's app object, for `app = Celery("proj")` / `@app.task` codebases.
    "Celery": "django_qstash.app",
    "current_app": "django_qstash.app",
    "get_task_logger": "django_qstash.log",
}


# Hidden from type checkers, which read the imports above: with a module __getattr__ in view,
# they would accept any attribute of this module.
if not TYPE_CHECKING:
    from django_qstash.lazy_names import lazy_names

    __getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
