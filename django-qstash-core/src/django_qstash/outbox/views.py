"""The drain endpoint: a QStash schedule POSTs here every minute (signed), and pending rows go."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from django_qstash import hooks
from django_qstash.outbox import relay

logger = logging.getLogger("django_qstash.outbox")


def drain_url() -> str:
    """The endpoint's absolute URL: the webhook's origin (DJANGO_QSTASH_DOMAIN) + its path."""
    webhook = urlsplit(hooks.webhook_url())
    return f"{webhook.scheme}://{webhook.netloc}{reverse('django_qstash_outbox:drain')}"


@csrf_exempt
@transaction.non_atomic_requests
def drain_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = JsonResponse({"error": "the drain endpoint accepts POST only"}, status=405)
        response["Allow"] = "POST"
        return response
    try:
        hooks.verify_signature(
            request.META.get("HTTP_UPSTASH_SIGNATURE"), request.body, drain_url()
        )
    except hooks.SignatureError as exc:
        logger.warning("django-qstash outbox refused a drain request: %s", exc)
        return JsonResponse({"error": str(exc)}, status=401)
    total = relay.DrainReport()
    for report in relay.drain(respect_backoff=True):
        total.add(report)
    # 200 even when some rows failed: they wait for their backoff, and QStash must not retry.
    return JsonResponse(
        {"published": total.published, "failed": total.failed, "errors": total.errors[:5]}
    )
