"""Views of "your own" protected by ``@verify_qstash``, for tests/core/test_receiving.py."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_qstash import verify_qstash

#: Every message a view below was run with: (view, message id, retried, body).
received: list[tuple[str, str, int, bytes]] = []


def _seen(name: str, request: Any) -> JsonResponse:
    message = request.qstash
    received.append((name, message.message_id, message.retried, request.body))
    return JsonResponse({"view": name, "message_id": message.message_id, "url": message.url})


@verify_qstash
def sync_hook(request: HttpRequest) -> JsonResponse:
    return _seen("sync", request)


@verify_qstash
async def async_hook(request: HttpRequest) -> JsonResponse:
    return _seen("async", request)


@verify_qstash(url="https://hooks.example.com/build/")
def given_url_hook(request: HttpRequest) -> JsonResponse:
    return _seen("given", request)


urlpatterns = [
    path("hooks/sync/", sync_hook),
    path("hooks/async/", async_hook),
    path("hooks/given/", given_url_hook),
]
