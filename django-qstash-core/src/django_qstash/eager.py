"""Eager runs: ``Task.apply()`` and ``DJANGO_QSTASH_ALWAYS_EAGER`` run a task in this process,
through the same runner a delivery uses."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django_qstash import envelope
from django_qstash import result as _results
from django_qstash.conf import conf
from django_qstash.signatures import signature_list
from django_qstash.store import Delivery

if TYPE_CHECKING:
    from django_qstash.task import Task

_celery_eager_setting_checked = False


def apply(
    task: Task[..., Any],
    task_args: list[Any],
    task_kwargs: dict[str, Any],
    *,
    task_id: str | None,
    retries: int,
    throw: bool | None,
    link: Any,
    link_error: Any,
    options: Mapping[str, Any],
) -> _results.EagerResult:
    """Run ``task`` now as a delivery would (see ``Task.apply``)."""
    from django_qstash import runner  # only here: a publish checks the eager setting, no more

    task.bind_arguments(task_args, task_kwargs)
    links = signature_list(link)
    errbacks = signature_list(link_error)
    message: dict[str, Any] = dict(task.call_defaults.message)
    for key in ("root_id", "parent_id", "group_id", "shadow"):
        if options.get(key) is not None:
            message[key] = str(options[key])
    if options.get("headers"):
        message["headers"] = dict(options["headers"])
    if links:
        message["link"] = links
    if errbacks:
        message["link_error"] = errbacks
    # Eager runs still go through JSON, so a test catches what a real publish would refuse.
    envelope.build(task.name, task_args, task_kwargs, message)
    task_id = str(task_id or uuid.uuid4().hex)
    while True:
        delivery = Delivery(
            message_id=task_id,
            task_name=task.name,
            args=task_args,
            kwargs=task_kwargs,
            options={**message, "retries": retries} if retries else message,
            is_eager=True,
        )
        outcome = runner.execute(task, delivery)
        retry = outcome.retry
        if retry is None or not retry.is_eager:
            break
        retries += 1
        task_args = retry.retry_args if retry.retry_args is not None else task_args
        task_kwargs = retry.retry_kwargs if retry.retry_kwargs is not None else task_kwargs
    result = _results.EagerResult(
        task_id,
        task_name=task.name,
        status=outcome.status,
        value=outcome.value,
        exception=outcome.exception,
        traceback=outcome.traceback,
    )
    root_id = message.get("root_id") or task_id
    if outcome.exception is None:
        for signature in links:
            signature.apply((outcome.value,), parent_id=task_id, root_id=root_id)
    else:
        for signature in errbacks:
            signature.apply((task_id,), parent_id=task_id, root_id=root_id)
    propagate = conf.EAGER_PROPAGATES if throw is None else throw
    if outcome.exception is not None and propagate:
        raise outcome.exception
    return result


def check_celery_eager_setting() -> None:
    """Once per process: say so if the project still relies on CELERY_TASK_ALWAYS_EAGER."""
    if not _celery_eager_setting_checked:
        _warn_about_celery_eager_setting()


def _warn_about_celery_eager_setting() -> None:
    global _celery_eager_setting_checked
    _celery_eager_setting_checked = True
    if conf.CELERY_TASK_ALWAYS_EAGER and not conf.ALWAYS_EAGER:
        warnings.warn(
            "CELERY_TASK_ALWAYS_EAGER is set but django-qstash does not read it: set "
            "DJANGO_QSTASH_ALWAYS_EAGER = True (and DJANGO_QSTASH_EAGER_PROPAGATES for "
            "CELERY_TASK_EAGER_PROPAGATES) to run django-qstash tasks in-process too.",
            UserWarning,
            stacklevel=5,
        )
