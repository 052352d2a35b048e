"""Views of the sample project: an async view that publishes without a thread hop, and views of
its own that receive QStash messages (not tasks), verified as the webhook verifies deliveries."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

import django_qstash
from django_qstash import verify_qstash
from example.models import TaskRun
from example.tasks import record


@csrf_exempt
@require_POST
async def enqueue(request: HttpRequest) -> JsonResponse:
    """Enqueue the ``record`` task and publish a JSON message to ``/hooks/received/``."""
    key = json.loads(request.body or b"{}").get("key", "async")
    result = await record.adelay(key, {"via": "adelay"})
    message_id = await django_qstash.apublish(
        f"{settings.DJANGO_QSTASH_DOMAIN}/hooks/received/", json={"key": key}
    )
    return JsonResponse({"task_id": result.id, "message_id": message_id})


def _received(request: HttpRequest, task: str) -> dict[str, Any]:
    message = request.qstash  # type: ignore[attr-defined]
    return {
        "task": task,
        "key": message.message_id,
        "value": {"body": json.loads(request.body), "retried": message.retried},
    }


@verify_qstash
def received(request: HttpRequest) -> JsonResponse:
    """A QStash message to a view of your own: only a verified request gets here."""
    TaskRun.objects.create(**_received(request, "hook:received"))
    return JsonResponse({"received": request.qstash.message_id})  # type: ignore[attr-defined]


@verify_qstash
async def received_async(request: HttpRequest) -> JsonResponse:
    """The same, as an async view."""
    await TaskRun.objects.acreate(**_received(request, "hook:received_async"))
    return JsonResponse({"received": request.qstash.message_id})  # type: ignore[attr-defined]
