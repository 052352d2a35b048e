"""The execution context of a running task: ``self.request`` and what the runner sets.

The runner sets :data:`current_execution` around every run (a delivery, an eager ``apply()``,
a bound task called inline); ``Task.request`` reads it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class TaskRequest:
    """``self.request`` of a bound task: what is known about the current execution.

    Custom headers given with ``apply_async(headers=...)`` are in ``headers`` and, as in
    Celery, readable as attributes too (``self.request.tenant``).
    """

    #: Celery's task id: the first message's id, the same across ``self.retry()``.
    id: str | None = None
    task: str = ""
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: How many times this task was retried before this run (0-based, as in Celery).
    retries: int = 0
    #: When the message was due (ISO 8601), if it was published with a countdown or eta.
    eta: str | None = None
    expires: str | None = None
    schedule_id: str | None = None
    called_directly: bool = True
    is_eager: bool = False
    headers: dict[str, Any] = field(default_factory=dict)
    delivery_info: dict[str, Any] = field(default_factory=dict)
    root_id: str | None = None
    parent_id: str | None = None
    group: str | None = None
    shadow: str | None = None
    callbacks: list[Any] | None = None
    errbacks: list[Any] | None = None
    #: The QStash message id of this delivery (differs from ``id`` after a ``self.retry()``).
    message_id: str | None = None
    #: The message's own options, carried over to the next attempt by ``retry()``.
    message_options: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Set by ``retry()`` past ``max_retries``: the failure that follows is final.
    retries_exhausted: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not fields: Celery exposes custom headers this way.
        headers = self.__dict__.get("headers") or {}
        if name in headers:
            return headers[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class Execution:
    """The task running in this context; its :class:`TaskRequest` is built when first read.

    Most tasks never read ``self.request``, so a delivery does not pay for building it.
    """

    __slots__ = ("_build", "_request", "task_name")

    def __init__(
        self,
        task_name: str,
        build: Callable[[], TaskRequest] | None = None,
        request: TaskRequest | None = None,
    ) -> None:
        self.task_name = task_name
        self._build = build
        self._request = request

    @property
    def request(self) -> TaskRequest:
        request = self._request
        if request is None:
            assert self._build is not None
            request = self._request = self._build()
        return request


current_execution: contextvars.ContextVar[Execution | None] = contextvars.ContextVar(
    "django_qstash_execution", default=None
)
