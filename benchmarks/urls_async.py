"""Async views that publish one task each, for benchmarks/async_publish.py."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.urls import path

from benchmarks.startup_tasks import startup_noop


async def with_adelay(request: HttpRequest) -> JsonResponse:
    result = await startup_noop.adelay(1)
    return JsonResponse({"id": result.id})


async def with_sync_to_async(request: HttpRequest) -> JsonResponse:
    # What an async view had to write before adelay(): the call runs in asgiref's one
    # thread-sensitive thread (the default).
    result = await sync_to_async(startup_noop.delay)(1)
    return JsonResponse({"id": result.id})


async def with_thread_pool(request: HttpRequest) -> JsonResponse:
    # The same, spread over a thread pool instead (thread_sensitive=False).
    result = await sync_to_async(startup_noop.delay, thread_sensitive=False)(1)
    return JsonResponse({"id": result.id})


async def without_publish(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"id": "none"})


urlpatterns = [
    path("noop/", without_publish),
    path("adelay/", with_adelay),
    path("sync-to-async/", with_sync_to_async),
    path("thread-pool/", with_thread_pool),
]
