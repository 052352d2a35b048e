"""A workflow: a function of a workflow context, served at its own URL, started by ``trigger``."""

from __future__ import annotations

import inspect
import json
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any, overload

from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from django_qstash.conf import conf
from django_qstash.workflows import registry

URL_NAMESPACE = "django_qstash_workflows"
#: What a run id may contain (it travels in a URL path and in headers).
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

WorkflowFunction = Callable[[Any], Any]
FailureFunction = Callable[[Any, int, str, dict[str, str]], Any]


class Workflow:
    """A registered workflow. Call :meth:`trigger` to start a run; the function itself runs
    only when QStash delivers to :attr:`url`."""

    def __init__(
        self,
        function: WorkflowFunction,
        *,
        name: str | None = None,
        retries: int | None = None,
        failure_function: FailureFunction | None = None,
        failure_url: str | None = None,
        initial_payload_parser: Callable[[str], Any] | None = None,
    ) -> None:
        self.function = function
        self.name = name or f"{function.__module__}.{function.__qualname__}"
        self.is_async = inspect.iscoroutinefunction(function)
        if retries is not None and (not isinstance(retries, int) or retries < 0):
            raise ValueError(f"workflow {self.name}: retries must be an integer >= 0")
        if failure_function is not None:
            if failure_url is not None:
                raise ValueError(
                    f"workflow {self.name}: give failure_function or failure_url, not both"
                )
            if inspect.iscoroutinefunction(failure_function) != self.is_async:
                kind = "an async" if self.is_async else "a sync"
                raise TypeError(
                    f"workflow {self.name} is {kind} function: its failure_function must be "
                    f"{kind} function too"
                )
        self.retries = retries
        self.failure_function = failure_function
        self.failure_url = failure_url
        self.initial_payload_parser = initial_payload_parser
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __repr__(self) -> str:
        return f"<Workflow {self.name}>"

    @property
    def path(self) -> str:
        try:
            return reverse(f"{URL_NAMESPACE}:{self.name}")
        except NoReverseMatch:
            raise ImproperlyConfigured(
                f"workflow {self.name!r} has no URL: route the workflows with "
                'path("workflows/", include("django_qstash.workflows.urls")) in your URLconf, '
                "and define workflows in an installed app's workflows.py"
            ) from None

    @property
    def url(self) -> str:
        """The absolute URL QStash delivers this workflow's steps to, built from settings."""
        return conf.absolute_url(self.path)

    def run_failure_url(self) -> str | None:
        """Where QStash reports a run whose retries are spent."""
        return self.url if self.failure_function is not None else self.failure_url

    def trigger(
        self,
        payload: Any = None,
        *,
        run_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: int | None = None,
    ) -> str:
        """Start a run with ``payload`` (JSON-serialisable, or a string sent as it is); return
        its run id. ``headers`` reach the workflow as ``context.headers``; ``delay`` (seconds)
        postpones the first step."""
        from django_qstash.workflows.runs import start_run

        if run_id is None:
            run_id = "wfr_" + secrets.token_urlsafe(18).replace("-", "_")
        elif not RUN_ID_PATTERN.match(run_id):
            raise ValueError(f"run_id {run_id!r}: use 1 to 128 letters, digits, '_' or '-'")
        if delay is not None and (not isinstance(delay, int) or delay < 0):
            raise ValueError(f"delay must be a whole number of seconds >= 0, got {delay!r}")
        if isinstance(payload, str):
            body = payload
        else:
            try:
                body = json.dumps(payload)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"workflow {self.name}: the payload must be JSON-serialisable: {exc}"
                ) from None
        start_run(self, run_id, body, dict(headers or {}), delay)
        return run_id

    def cancel(self, run_id: str) -> None:
        """Cancel a run of this workflow (its pending steps are dropped)."""
        from django_qstash.workflows.runs import cancel_run

        cancel_run(run_id)


@overload
def workflow(function: WorkflowFunction, /) -> Workflow: ...


@overload
def workflow(
    *,
    name: str | None = None,
    retries: int | None = None,
    failure_function: FailureFunction | None = None,
    failure_url: str | None = None,
    initial_payload_parser: Callable[[str], Any] | None = None,
) -> Callable[[WorkflowFunction], Workflow]: ...


def workflow(
    function: WorkflowFunction | None = None,
    /,
    **options: Any,
) -> Workflow | Callable[[WorkflowFunction], Workflow]:
    """Register ``function(context)`` (sync or ``async``) as a workflow.

    ``@workflow`` or ``@workflow(name=..., retries=..., failure_function=...)``; the options are
    those of the SDK's ``serve``.
    """

    def decorate(function: WorkflowFunction) -> Workflow:
        if not callable(function):
            raise TypeError(f"@workflow decorates a function, not {function!r}")
        definition = Workflow(function, **options)
        registry.register(definition)
        return definition

    return decorate(function) if function is not None else decorate
