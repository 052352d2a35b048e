"""Starting and cancelling runs through the QStash API (the shared client of django-qstash)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django_qstash.publisher import get_client
from django_qstash.workflows.sdk import require_sdk

if TYPE_CHECKING:
    from django_qstash.workflows.definition import Workflow


def start_run(
    definition: Workflow, run_id: str, body: str, headers: dict[str, str], delay: int | None
) -> None:
    """Publish the run's first step as the SDK's own first answer does (``Init: true``), so the
    run id is ours to return; the SDK's header builder keeps the wire format its own."""
    require_sdk()
    from upstash_workflow.workflow_requests import _get_headers

    control = _get_headers(
        "true",
        run_id,
        definition.url,
        headers,
        None,
        definition.retries,
        workflow_failure_url=definition.run_failure_url(),
    ).headers
    request_headers = {"Content-Type": "application/json", **control}
    if delay:
        request_headers["Upstash-Delay"] = f"{delay}s"
    get_client().http.request(
        path=f"/v2/publish/{definition.url}",
        method="POST",
        headers=request_headers,
        body=body,
    )


def cancel_run(run_id: str) -> None:
    """Cancel a workflow run: its pending and delayed steps are dropped and it stops after the
    step running now, if any. Raises the SDK's ``QStashError`` for an unknown run."""
    get_client().http.request(
        path=f"/v2/workflows/runs/{run_id}?cancel=true",
        method="DELETE",
        parse_response=False,
    )
