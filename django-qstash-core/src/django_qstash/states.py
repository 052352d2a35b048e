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
RETRY = "RETRY"
#: Celery's names for outcomes django-qstash does not produce (kept for code that compares).
REJECTED = "REJECTED"
IGNORED = "IGNORED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({PENDING, RECEIVED, STARTED, REJECTED, RETRY})
EXCEPTION_STATES = frozenset({RETRY, FAILURE, REVOKED})
PROPAGATE_STATES = frozenset({FAILURE, REVOKED})

ALL_STATES = frozenset({PENDING, RECEIVED, STARTED, SUCCESS, FAILURE, RETRY, REVOKED})

#: Most final first: a state later in the list never overrides one earlier (``None``: unknown).
PRECEDENCE: list[str | None] = [
    SUCCESS,
    FAILURE,
    None,
    REVOKED,
    STARTED,
    RECEIVED,
    REJECTED,
    RETRY,
    PENDING,
]
PRECEDENCE_LOOKUP: dict[str | None, int] = {name: rank for rank, name in enumerate(PRECEDENCE)}
NONE_PRECEDENCE = PRECEDENCE_LOOKUP[None]


def precedence(state: str | None) -> int:
    """The rank of ``state`` in :data:`PRECEDENCE` (lower is more final); unknown as ``None``."""
    return PRECEDENCE_LOOKUP.get(state, NONE_PRECEDENCE)


class state(str):
    """A state that compares by precedence: ``state(SUCCESS) > state(PENDING)``."""

    def __gt__(self, other: str) -> bool:
        return precedence(self) < precedence(other)

    def __ge__(self, other: str) -> bool:
        return precedence(self) <= precedence(other)

    def __lt__(self, other: str) -> bool:
        return precedence(self) > precedence(other)

    def __le__(self, other: str) -> bool:
        return precedence(self) >= precedence(other)


#: A state as a type, for annotations.
StateName = Literal["PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "RETRY", "REVOKED"]


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

    def __str__(self) -> str:
        return self.value


__all__ = [
    "ALL_STATES",
    "EXCEPTION_STATES",
    "FAILURE",
    "IGNORED",
    "NONE_PRECEDENCE",
    "PENDING",
    "PRECEDENCE",
    "PRECEDENCE_LOOKUP",
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
    "precedence",
    "state",
]
