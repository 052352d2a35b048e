"""The signals django-qstash sends around every publish and delivery (re-exported by ``hooks``).

Each is sent with ``sender`` = the task object and, for deliveries, ``delivery`` = a
:class:`~django_qstash.store.Delivery`. A receiver that raises is logged and never changes the
answer to QStash.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("django_qstash")

#: A signed, well-formed message for a registered task arrived (before the result store claim).
task_received = Signal()
#: The task is about to run.
task_started = Signal()
#: The task returned; ``result`` is the return value, ``duration`` seconds.
task_succeeded = Signal()
#: The task raised; ``exception``, ``traceback`` (str) and ``final`` (no retry will follow).
task_failed = Signal()
#: The task asked for a retry (``Task.retry`` / ``autoretry_for``); ``exception``, ``countdown``.
task_retried = Signal()
#: A message was published; ``message_id``, ``task_name``, ``args``, ``kwargs``.
message_published = Signal()


def send_robust(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send a signal; a receiver that raises is logged, never propagated."""
    if not signal.receivers:  # the usual case: skip Django's dispatch machinery
        return
    log_raised(signal.send_robust(sender, **kwargs))


def log_raised(responses: Iterable[tuple[Any, Any]]) -> None:
    """Log each receiver that raised, from ``send_robust``'s (or ``asend_robust``'s) answer."""
    for receiver, response in responses:
        if isinstance(response, Exception):
            logger.error(
                "django-qstash hook receiver %r raised; the delivery is unaffected",
                receiver,
                exc_info=response,
            )
