"""A durable workflow of the sample project (Upstash Workflow, served by django-qstash).

Start one from Django code with ``onboarding.trigger({"user": "ada"})``: it returns the run id.
Each step runs once; QStash keeps its result and calls the endpoint again for the next one.
"""

from __future__ import annotations

from typing import Any

from django_qstash.workflows import WorkflowContext, workflow
from example.models import TaskRun


@workflow
def onboarding(context: WorkflowContext[dict[str, Any]]) -> None:
    user = context.request_payload["user"]

    def create_account() -> str:
        TaskRun.objects.create(task="onboarding:account", key=user)
        return f"account for {user}"

    account = context.run("create-account", create_account)

    # A sleep costs nothing: QStash calls the endpoint again when it is over.
    context.sleep("wait-before-welcome", 2)

    def send_welcome() -> str:
        TaskRun.objects.create(task="onboarding:welcome", key=user, value=account)
        return f"welcome sent to {user}"

    welcome = context.run("send-welcome", send_welcome)

    def finish() -> None:
        TaskRun.objects.create(task="onboarding:done", key=user, value=[account, welcome])

    context.run("finish", finish)
