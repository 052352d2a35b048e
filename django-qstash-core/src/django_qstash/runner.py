"""Run one delivery of a task: the single execution path shared by the webhook and eager mode."""

from __future__ import annotations

import logging
import time
import traceback as traceback_module
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_qstash import hooks
from django_qstash.exceptions import Retry
from django_qstash.task import TaskRequest, _current_request

if TYPE_CHECKING:
    from django_qstash.task import Task

logger = logging.getLogger("django_qstash")

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
RETRY = "RETRY"


@dataclass
class Outcome:
    status: str
    value: Any = None
    exception: BaseException | None = None
    traceback: str | None = None
    duration: float = 0.0
    #: The task republished itself (``Task.retry``); QStash must not retry this delivery too.
    republished: bool = False


def request_for(task: Task[..., Any], delivery: hooks.Delivery) -> TaskRequest:
    options = delivery.options
    return TaskRequest(
        id=delivery.message_id,
        task=task.name,
        args=delivery.args,
        kwargs=delivery.kwargs,
        retries=int(options.get("retries", 0)) + delivery.retried,
        eta=options.get("eta"),
        expires=options.get("expires"),
        schedule_id=delivery.schedule_id,
        called_directly=False,
        is_eager=delivery.is_eager,
        headers=dict(options.get("headers", {})),
    )


def execute(task: Task[..., Any], delivery: hooks.Delivery) -> Outcome:
    """Run the task for this delivery, send the hooks, and say how it went. Never raises."""
    token = _current_request.set(request_for(task, delivery))
    hooks.send_robust(hooks.task_started, task, delivery=delivery)
    started = time.perf_counter()
    try:
        value = task._invoke(delivery.args, delivery.kwargs)
    except Retry as retry:
        outcome = Outcome(
            RETRY, exception=retry.exc or retry, duration=time.perf_counter() - started
        )
        outcome.republished = True
        hooks.send_robust(
            hooks.task_retried, task, delivery=delivery, exception=retry.exc, countdown=retry.when
        )
    except Exception as exc:
        tb = traceback_module.format_exc()
        outcome = Outcome(
            FAILURE, exception=exc, traceback=tb, duration=time.perf_counter() - started
        )
        final = delivery.is_final_attempt
        if not delivery.is_eager:
            logger.error(
                "Task %s[%s] raised on attempt %d%s",
                task.name,
                delivery.message_id,
                delivery.attempt,
                " (final)" if final else "; QStash will retry",
                exc_info=exc,
            )
        hooks.send_robust(
            hooks.task_failed, task, delivery=delivery, exception=exc, traceback=tb, final=final
        )
    else:
        outcome = Outcome(SUCCESS, value=value, duration=time.perf_counter() - started)
        hooks.send_robust(
            hooks.task_succeeded, task, delivery=delivery, result=value, duration=outcome.duration
        )
    finally:
        _current_request.reset(token)
    return outcome
