"""Result objects: ``.delay()`` returns an :class:`AsyncResult`; eager runs give an
:class:`EagerResult`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from asgiref.sync import sync_to_async

from django_qstash.exceptions import ResultBackendNotConfigured, TaskTimeout
from django_qstash.publisher import get_client
from django_qstash.states import FAILURE, PENDING, READY_STATES, RETRY, STARTED, SUCCESS
from django_qstash.store import StoredResult
from django_qstash.store_registry import get_result_store

__all__ = [
    "FAILURE",
    "PENDING",
    "READY_STATES",
    "RETRY",
    "STARTED",
    "SUCCESS",
    "AsyncResult",
    "EagerResult",
    "GroupResult",
    "TaskFailure",
]


class AsyncResult:
    """A published task. ``id`` is the QStash message id.

    ``status``, ``result``, ``get()``, ``ready()``, ``successful()`` and ``failed()`` read the
    result store of the ``django_qstash.results`` app, and raise
    :class:`ResultBackendNotConfigured` when it is not installed.
    """

    def __init__(self, id: str, task_name: str | None = None) -> None:
        self.id = id
        self.task_name = task_name
        #: The result of the step before in a chain (as Celery's ``parent``).
        self.parent: AsyncResult | GroupResult | None = None

    @property
    def task_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __str__(self) -> str:
        return self.id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return self.id == other.id
        if isinstance(other, str):
            return self.id == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def _stored(self) -> StoredResult | None:
        store = get_result_store()
        if store is None:
            raise ResultBackendNotConfigured(
                "task results are not stored: add 'django_qstash.results' to INSTALLED_APPS "
                "(pip install django-qstash-results) and run "
                "`python manage.py migrate django_qstash_results`."
            )
        return store.get(self.id)

    @property
    def status(self) -> str:
        stored = self._stored()
        return stored.status if stored else PENDING

    state = status

    @property
    def result(self) -> Any:
        stored = self._stored()
        if stored is None:
            return None
        if stored.status == FAILURE:
            return _rebuild_exception(stored)
        return stored.result

    info = result

    @property
    def traceback(self) -> str | None:
        stored = self._stored()
        return stored.traceback if stored else None

    def ready(self) -> bool:
        return self.status in READY_STATES

    def successful(self) -> bool:
        return self.status == SUCCESS

    def failed(self) -> bool:
        return self.status == FAILURE

    def get(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> Any:
        """Wait for the outcome; re-raise the task's exception if ``propagate``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            stored = self._stored()
            if stored is not None and stored.status in READY_STATES:
                return _outcome(stored, propagate)
            failed = self._failed_parent()
            if failed is not None:
                # A chain stops at its failed step: this step will never run (Celery's
                # follow_parents).
                return failed.get(propagate=propagate)
            self._check_deadline(deadline, timeout)
            time.sleep(interval)

    wait = get

    async def aget(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> Any:
        """:meth:`get` for async code: waits with ``asyncio.sleep``, so the event loop goes on
        (each look-up reads the result store in a thread: Django's ORM is synchronous)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        look_up = sync_to_async(self._stored)
        while True:
            stored = await look_up()
            if stored is not None and stored.status in READY_STATES:
                return _outcome(stored, propagate)
            failed = await sync_to_async(self._failed_parent)()
            if failed is not None:
                return await failed.aget(propagate=propagate)
            self._check_deadline(deadline, timeout)
            await asyncio.sleep(interval)

    def _check_deadline(self, deadline: float | None, timeout: float | None) -> None:
        if deadline is not None and time.monotonic() >= deadline:
            raise TaskTimeout(f"task {self.id} did not finish within {timeout} seconds")

    def _failed_parent(self) -> AsyncResult | None:
        parent = self.parent
        while parent is not None:
            members = parent.results if isinstance(parent, GroupResult) else [parent]
            for member in members:
                if member.failed():
                    return member
            parent = parent.parent
        return None

    def revoke(self, terminate: bool = False, **_: Any) -> None:
        """Cancel the message in QStash, so it is not delivered (again).

        As Celery's ``revoke()`` without ``terminate``: a delivery already running finishes.
        ``terminate=True`` cannot stop it either (it runs in a web request), so it raises.
        """
        if terminate:
            raise NotImplementedError(
                "revoke(terminate=True): a running task is a web request QStash cannot stop"
            )
        get_client().message.cancel(self.id)


class GroupResult:
    """The results of a ``group``: one :class:`AsyncResult` per member, in order."""

    def __init__(self, id: str, results: list[AsyncResult]) -> None:
        self.id = id
        self.results = results
        self.parent: AsyncResult | GroupResult | None = None

    @property
    def children(self) -> list[AsyncResult]:
        return self.results

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(r.id for r in self.results)}]>"

    def __iter__(self) -> Iterator[AsyncResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, index: int) -> AsyncResult:
        return self.results[index]

    def ready(self) -> bool:
        return all(result.ready() for result in self.results)

    def successful(self) -> bool:
        return all(result.successful() for result in self.results)

    def failed(self) -> bool:
        return any(result.failed() for result in self.results)

    def waiting(self) -> bool:
        return not self.ready()

    def completed_count(self) -> int:
        return sum(1 for result in self.results if result.successful())

    def get(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> list[Any]:
        """Every member's value, in order (waits up to ``timeout`` seconds in all)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for result in self.results:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            values.append(result.get(timeout=remaining, propagate=propagate, interval=interval))
        return values

    join = get

    async def aget(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> list[Any]:
        """:meth:`get` for async code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for result in self.results:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            values.append(
                await result.aget(timeout=remaining, propagate=propagate, interval=interval)
            )
        return values

    def revoke(self, terminate: bool = False, **options: Any) -> None:
        for result in self.results:
            result.revoke(terminate, **options)


class TaskFailure(Exception):
    """Stands for a stored exception whose class cannot be rebuilt."""


def _outcome(stored: StoredResult, propagate: bool) -> Any:
    """The value of a finished task, or its exception (raised if ``propagate``)."""
    if stored.status == FAILURE:
        exc = _rebuild_exception(stored)
        if propagate:
            raise exc
        return exc
    return stored.result


def _rebuild_exception(stored: StoredResult) -> BaseException:
    from django.utils.module_loading import import_string

    message = stored.exception_message or ""
    try:
        cls = import_string(stored.exception_type or "")
        if isinstance(cls, type) and issubclass(cls, BaseException):
            return cls(message)
    except Exception:
        pass
    return TaskFailure(f"{stored.exception_type}: {message}")


class EagerResult(AsyncResult):
    """The outcome of a task run in this process (``apply()`` or DJANGO_QSTASH_ALWAYS_EAGER)."""

    def __init__(
        self,
        id: str,
        task_name: str | None = None,
        *,
        status: str,
        value: Any = None,
        exception: BaseException | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(id, task_name)
        self._status = status
        self._value = value
        self._exception = exception
        self._traceback = traceback

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"

    @property
    def status(self) -> str:
        return self._status

    state = status

    @property
    def result(self) -> Any:
        return self._exception if self._exception is not None else self._value

    info = result

    @property
    def traceback(self) -> str | None:
        return self._traceback

    def get(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> Any:
        if self._exception is not None and propagate:
            raise self._exception
        return self.result

    wait = get

    async def aget(
        self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5
    ) -> Any:
        """The outcome, already known (the task ran when it was called)."""
        return self.get(timeout, propagate, interval)
