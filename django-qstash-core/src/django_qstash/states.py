"""Task states: one vocabulary for the runner, results, the webhook and the Tasks backend.

The names and sets are Celery's (``celery.states``), so ``from django_qstash import states``
reads as ``from celery import states`` does.
"""

from __future__ import annotations

import enum
from typing import Literal

PENDING = "PENDING"
#: Celery's state for a message a worker received; here: the webhook accepted the delivery.
RECEIVED = "RECEIVED"
STARTED = "STARTED"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"
REJECTED = "REJECTED"
RETRY = "RETRY"
IGNORED = "IGNORED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})

ALL_STATES = frozenset(
    {PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED, REJECTED, IGNORED}
)

#: A state as a type, for annotations.
StateName = Literal[
    "PENDING",
    "RECEIVED",
    "STARTED",
    "SUCCESS",
    "FAILURE",
    "RETRY",
    "REVOKED",
    "REJECTED",
    "IGNORED",
]


class TaskState(str, enum.Enum):
    """The states as an enum whose members are the plain strings above (``TaskState.SUCCESS ==
    "SUCCESS"``), for code that wants exhaustive matching."""

    PENDING = PENDING
    RECEIVED = RECEIVED
    STARTED = STARTED
    SUCCESS = SUCCESS
    FAILURE = FAILURE
    RETRY = RETRY
    REVOKED = REVOKED
    REJECTED = REJECTED
    IGNORED = IGNORED

    def __str__(self) -> str:
        return self.value


__all__ = [
    "ALL_STATES",
    "EXCEPTION_STATES",
    "FAILURE",
    "IGNORED",
    "PENDING",
    "PROPAGATE_STATES",
    "READY_STATES",
    "RECEIVED",
    "REJECTED",
    "RETRY",
    "REVOKED",
    "STARTED",
    "SUCCESS",
    "UNREADY_STATES",
    "StateName",
    "TaskState",
]
