"""Run one delivery of a task: the single execution path shared by the webhook and eager mode.

What a task needs to offer the runner: ``name``, ``_invoke(args, kwargs)``, ``ignore_result``
and ``options``; the Celery parts (``retry_policy``, ``throws``, handlers, ``retry``) are used
when present.
"""

from __future__ import annotations

import logging
import reprlib
import time
import traceback as traceback_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_qstash import signals
from django_qstash.exceptions import Retry
from django_qstash.execution import Execution, TaskRequest, current_execution
from django_qstash.states import FAILURE, RETRY, SUCCESS
from django_qstash.store import Delivery

if TYPE_CHECKING:
    from django_qstash.task import Task

logger = logging.getLogger("django_qstash")

__all__ = ["FAILURE", "RETRY", "SUCCESS", "Outcome", "attempt_text", "execute", "request_for"]

#: How much of a return value the success line shows (one line per task, as Celery's).
_result_repr = reprlib.Repr()
_result_repr.maxstring = _result_repr.maxother = 120
_result_repr.maxlist = _result_repr.maxdict = _result_repr.maxtuple = 10
_result_repr.maxlevel = 3


def attempt_text(delivery: Delivery) -> str:
    """``attempt 2 of 4``: this delivery's attempt and how many QStash makes at most."""
    limit = 3 if delivery.max_retries is None else delivery.max_retries
    return f"attempt {delivery.attempt} of {limit + 1}"


def _short_repr(value: Any) -> str:
    try:
        return _result_repr.repr(value)
    except Exception:  # a broken __repr__ must not fail a delivery that already ran
        return f"<unrepresentable {type(value).__name__}>"


@dataclass
class Outcome:
    status: str
    value: Any = None
    exception: BaseException | None = None
    traceback: str | None = None
    duration: float = 0.0
    #: The task republished itself (``Task.retry``); QStash must not retry this delivery too.
    republished: bool = False
    #: No attempt will follow this failure.
    final: bool = False
    #: The task's own retry rules say stop (``autoretry_for`` does not list the exception, or
    #: ``retry()`` ran out of retries), although QStash has retries left: answer 489.
    stop_retrying: bool = False
    #: What ``retry()`` raised (in eager mode ``apply()`` runs the next attempt from it).
    retry: Retry | None = None


def request_for(task: Task[..., Any], delivery: Delivery) -> TaskRequest:
    options = delivery.options
    default_headers = getattr(task, "default_headers", None)
    if not options:
        return TaskRequest(
            id=delivery.message_id,
            task=task.name,
            args=delivery.args,
            kwargs=delivery.kwargs,
            retries=delivery.retried,
            schedule_id=delivery.schedule_id,
            called_directly=False,
            is_eager=delivery.is_eager,
            message_id=delivery.message_id,
            headers=dict(default_headers) if default_headers else {},
            delivery_info={"retried": delivery.retried, "queue": task.options.get("queue")},
        )
    link = options.get("link")
    link_error = options.get("link_error")
    return TaskRequest(
        id=options.get("task_id") or delivery.message_id,
        task=task.name,
        args=delivery.args,
        kwargs=delivery.kwargs,
        retries=int(options.get("retries", 0)) + delivery.retried,
        eta=options.get("eta"),
        expires=options.get("expires"),
        schedule_id=delivery.schedule_id,
        called_directly=False,
        is_eager=delivery.is_eager,
        headers={**(default_headers or {}), **(options.get("headers") or {})},
        root_id=options.get("root_id"),
        parent_id=options.get("parent_id"),
        group=options.get("group_id"),
        shadow=options.get("shadow"),
        callbacks=list(link) if link else None,
        errbacks=list(link_error) if link_error else None,
        message_id=delivery.message_id,
        message_options=options,
        delivery_info={
            "retried": delivery.retried,
            "queue": (options.get("publish") or {}).get("queue") or task.options.get("queue"),
        },
    )


def execute(task: Task[..., Any], delivery: Delivery) -> Outcome:
    """Run the task for this delivery, send the hooks, and say how it went. Never raises."""
    execution = Execution(task.name, lambda: request_for(task, delivery))
    token = current_execution.set(execution)
    if signals.task_started.receivers:  # skip the dispatch machinery when nobody listens
        signals.send_robust(signals.task_started, task, delivery=delivery)
    # Worker-style lines, as Celery's: one when a task starts, one when it succeeds.
    log_info = not delivery.is_eager and logger.isEnabledFor(logging.INFO)
    if log_info:
        logger.info(
            "Task %s[%s] started (%s)", task.name, delivery.message_id, attempt_text(delivery)
        )
    started = time.perf_counter()
    try:
        value = task._invoke(delivery.args, delivery.kwargs)
    except Retry as retry:
        outcome = _retried(task, delivery, retry, started)
    except KeyboardInterrupt:
        raise  # the process is being interrupted: not the task's failure to record (as Django)
    except BaseException as exc:
        # SystemExit, GeneratorExit, ... raised by the task are its failure, as Django records
        # them: the process that serves the webhook must survive its tasks.
        outcome = _failed(task, delivery, execution.request, exc, started)
    else:
        outcome = Outcome(SUCCESS, value=value, duration=time.perf_counter() - started)
        if log_info:
            logger.info(
                "Task %s[%s] succeeded in %.3fs (%s): %s",
                task.name,
                delivery.message_id,
                outcome.duration,
                attempt_text(delivery),
                _short_repr(value),
            )
        if signals.task_succeeded.receivers:
            signals.send_robust(
                signals.task_succeeded,
                task,
                delivery=delivery,
                result=value,
                duration=outcome.duration,
            )
    finally:
        current_execution.reset(token)
    if getattr(task, "_has_handlers", False):
        _call_handlers(task, execution.request, outcome)
    return outcome


def _retried(task: Task[..., Any], delivery: Delivery, retry: Retry, started: float) -> Outcome:
    outcome = Outcome(
        RETRY,
        exception=retry.exc or retry,
        duration=time.perf_counter() - started,
        republished=not retry.is_eager,
        retry=retry,
    )
    if not delivery.is_eager:
        reason = retry.exc if retry.exc is not None else retry
        logger.warning(
            "Task %s[%s] asked for a retry (%s)%s: %s: %s",
            task.name,
            delivery.message_id,
            attempt_text(delivery),
            f", next in {retry.when}s" if retry.when is not None else "",
            type(reason).__name__,
            reason,
        )
    signals.send_robust(
        signals.task_retried,
        task,
        delivery=delivery,
        exception=retry.exc,
        countdown=retry.when,
        message_id=retry.message_id,
    )
    return outcome


def _failed(
    task: Task[..., Any],
    delivery: Delivery,
    request: TaskRequest,
    exc: BaseException,
    started: float,
) -> Outcome:
    policy = getattr(task, "retry_policy", None)
    if policy is not None and policy.enabled and not request.retries_exhausted:
        if policy.matches(exc):
            if delivery.is_eager:
                # As Celery's autoretry: retry() decides (and runs the next attempt at once).
                try:
                    task.retry(exc=exc, **_retry_kwargs(task))
                except Retry as retry:
                    return _retried(task, delivery, retry, started)
                except Exception as gave_up:
                    exc = gave_up
        else:
            request.retries_exhausted = True  # not listed in autoretry_for: do not retry

    tb = traceback_module.format_exc()
    stop = request.retries_exhausted and not delivery.is_eager
    final = stop or delivery.is_final_attempt or request.retries_exhausted
    outcome = Outcome(
        FAILURE,
        exception=exc,
        traceback=tb,
        duration=time.perf_counter() - started,
        final=final,
        stop_retrying=stop and not delivery.is_final_attempt,
    )
    if not delivery.is_eager:
        _log_failure(task, delivery, request, exc, final=final)
    if not final and policy is not None and policy.enabled:
        signals.send_robust(
            signals.task_retried,
            task,
            delivery=delivery,
            exception=exc,
            countdown=None,
            message_id=None,
        )
    signals.send_robust(
        signals.task_failed, task, delivery=delivery, exception=exc, traceback=tb, final=final
    )
    return outcome


def _log_failure(
    task: Task[..., Any],
    delivery: Delivery,
    request: TaskRequest,
    exc: BaseException,
    *,
    final: bool,
) -> None:
    """WARNING with the reason when QStash will retry; ERROR with the traceback when not; INFO
    for an exception the task declares it ``throws`` (expected, as in Celery)."""
    name = request.shadow or task.name
    if isinstance(exc, tuple(getattr(task, "throws", ()) or ())):
        logger.info(
            "Task %s[%s] raised expected %s (%s): %s",
            name,
            delivery.message_id,
            type(exc).__name__,
            attempt_text(delivery),
            exc,
        )
    elif final:
        logger.error(
            "Task %s[%s] failed for good (%s): %s: %s",
            name,
            delivery.message_id,
            attempt_text(delivery),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
    else:
        logger.warning(
            "Task %s[%s] failed (%s); QStash will retry: %s: %s",
            name,
            delivery.message_id,
            attempt_text(delivery),
            type(exc).__name__,
            exc,
        )


def _retry_kwargs(task: Task[..., Any]) -> dict[str, Any]:
    kwargs = dict(getattr(task, "retry_kwargs", None) or {})
    kwargs.pop("countdown", None)  # eager retries run at once
    return kwargs


def _call_handlers(task: Task[..., Any], request: TaskRequest, outcome: Outcome) -> None:
    """Celery's ``on_success``/``on_failure``/``on_retry``/``after_return`` of a base class."""
    task_id = request.id or ""
    args, kwargs = request.args, request.kwargs
    try:
        if outcome.status == SUCCESS:
            task.on_success(outcome.value, task_id, args, kwargs)
        elif outcome.status == RETRY:
            task.on_retry(outcome.exception, task_id, args, kwargs, outcome.traceback)
        elif outcome.exception is not None:
            task.on_failure(outcome.exception, task_id, args, kwargs, outcome.traceback)
        value = outcome.value if outcome.status == SUCCESS else outcome.exception
        task.after_return(outcome.status, value, task_id, args, kwargs, outcome.traceback)
    except Exception:
        logger.exception("A handler of task %s raised; the outcome is unchanged", task.name)
