"""Celery's ``get_task_logger``: loggers for task modules whose records name the running task."""

from __future__ import annotations

import logging

from django_qstash.execution import current_execution

__all__ = ["TaskContextFilter", "get_task_logger", "task_logger"]

#: The parent of every task logger (Celery's is ``celery.task``): configure handlers here.
task_logger = logging.getLogger("django_qstash.task")


class TaskContextFilter(logging.Filter):
    """Adds ``task_id`` and ``task_name`` to each record (``"???"`` outside a task, as Celery)."""

    def filter(self, record: logging.LogRecord) -> bool:
        execution = current_execution.get()
        if execution is None:
            record.task_id, record.task_name = "???", "???"
        else:
            record.task_name = execution.task_name
            record.task_id = execution.request.id or "???"
        return True


_context_filter = TaskContextFilter()


def get_task_logger(name: str) -> logging.Logger:
    """The logger ``name``, under :data:`task_logger`, its records carrying the task's id and
    name (``%(task_id)s`` / ``%(task_name)s`` in a format), as ``celery.utils.log`` does."""
    if name in ("django_qstash.task", "celery.task"):
        raise RuntimeError(f"logger name {name!r} is reserved for the tasks' parent logger")
    logger = logging.getLogger(name)
    if logger.parent is logging.root:
        # As Celery: a top-level logger is re-parented so task logging has one place to configure.
        logger.parent = task_logger
    if _context_filter not in logger.filters:
        logger.addFilter(_context_filter)
    return logger
