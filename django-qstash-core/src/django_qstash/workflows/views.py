"""The workflow endpoint: verify the delivery like the webhook does, then hand it to the SDK.

Each workflow gets its own view (see ``urls``), sync or async like its function, so under ASGI
an async workflow runs on the event loop.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from django_qstash import signing
from django_qstash.conf import conf
from django_qstash.publisher import get_client
from django_qstash.workflows.definition import Workflow
from django_qstash.workflows.sdk import require_sdk

logger = logging.getLogger("django_qstash")

#: Verified here, against the workflow's URL built from settings; the SDK must not verify again
#: with keys of its own from the environment.
_NOT_FOR_THE_SDK = ("QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY")


def _answer(status: int, reason: str, error: str) -> HttpResponse:
    import json

    body = json.dumps({"status": reason, "error": error})
    return HttpResponse(body, content_type="application/json", status=status)


def _refusal(request: HttpRequest, definition: Workflow) -> HttpResponse | None:
    """An answer for a request the SDK must never see, or ``None`` to go on."""
    if request.method != "POST":
        response = _answer(405, "method_not_allowed", "a workflow endpoint accepts POST only")
        response["Allow"] = "POST"
        return response
    limit = conf.MAX_BODY_SIZE
    if len(request.body) > limit:
        return _answer(413, "too_large", f"the body is larger than {limit} bytes")
    try:
        signing.verify(
            request.META.get("HTTP_UPSTASH_SIGNATURE"),
            request.body,
            url=definition.url,
            keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
            leeway=conf.CLOCK_TOLERANCE,
        )
    except signing.SignatureError as exc:
        logger.warning("django-qstash rejected a workflow request for %s: %s", definition.name, exc)
        return _answer(401, "invalid_signature", str(exc))
    try:
        request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _answer(400, "bad_body", "a workflow request body must be UTF-8 text")
    return None


def _serve_options(definition: Workflow, url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "initial_payload_parser": definition.initial_payload_parser,
        "receiver": None,
        # The origin from settings wins over UPSTASH_WORKFLOW_URL, so the SDK publishes its
        # steps to the URL this view verifies against.
        "base_url": f"{parts.scheme}://{parts.netloc}",
        "env": {k: v for k, v in os.environ.items() if k not in _NOT_FOR_THE_SDK},
        "retries": definition.retries,
        "url": url,
        "failure_function": definition.failure_function,
        "failure_url": definition.failure_url,
    }


def _response(result: Any) -> HttpResponse:
    # The SDK's answers are JSON, though it does not always say so.
    response = HttpResponse(result.body, status=result.status, content_type="application/json")
    for name, value in (result.headers or {}).items():
        response[name] = value
    return response


def _request_fields(request: HttpRequest, url: str) -> dict[str, Any]:
    return {
        # Django's headers are case-insensitive, as the SDK's lookups need.
        "headers": request.headers,
        "method": "POST",
        "url": url,
        "query": dict(request.GET.items()),
    }


def sync_view(definition: Workflow) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @transaction.non_atomic_requests
    def workflow_view(request: HttpRequest) -> HttpResponse:
        refusal = _refusal(request, definition)
        if refusal is not None:
            return refusal
        sdk = require_sdk()
        from upstash_workflow.workflow_types import _SyncRequest

        url = definition.url
        handler = sdk.serve(
            definition.function, qstash_client=get_client(), **_serve_options(definition, url)
        )["handler"]
        sdk_request = _SyncRequest(
            body=request.body.decode("utf-8"), **_request_fields(request, url)
        )
        return _response(handler(sdk_request))

    return workflow_view


def async_view(definition: Workflow) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    @csrf_exempt
    @transaction.non_atomic_requests
    async def workflow_view(request: HttpRequest) -> HttpResponse:
        refusal = _refusal(request, definition)
        if refusal is not None:
            return refusal
        sdk = require_sdk()
        from qstash import AsyncQStash
        from upstash_workflow.workflow_types import _AsyncRequest

        url = definition.url
        # One client per request: an httpx.AsyncClient belongs to the event loop that made it,
        # and a WSGI server runs each async view on a loop of its own.
        client = AsyncQStash(str(conf.QSTASH_TOKEN or ""), base_url=conf.QSTASH_URL)
        try:
            handler = sdk.async_serve(
                definition.function, qstash_client=client, **_serve_options(definition, url)
            )["handler"]
            sdk_request = _AsyncRequest(_body=request.body, **_request_fields(request, url))
            return _response(await handler(sdk_request))
        finally:
            await client.http._client.aclose()

    return workflow_view


def view_for(definition: Workflow) -> Callable[[HttpRequest], Any]:
    return async_view(definition) if definition.is_async else sync_view(definition)
