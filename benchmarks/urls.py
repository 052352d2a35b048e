from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from django_qstash import shared_task


@csrf_exempt
def bare_json_view(request: HttpRequest) -> JsonResponse:
    """The baseline: a Django view that parses a JSON body and answers JSON."""
    data = json.loads(request.body)
    return JsonResponse({"status": "success", "task": data.get("task")})


@csrf_exempt
def minimal_dispatcher_view(request: HttpRequest) -> JsonResponse:
    """The floor: what any correct webhook must do (HS256 check, parse, look up, call, answer)."""
    from django_qstash import signing
    from django_qstash.conf import conf
    from django_qstash.registry import registry

    body = request.body
    signing.verify(
        request.META.get("HTTP_UPSTASH_SIGNATURE"),
        body,
        url=conf.webhook_url,
        keys=(conf.QSTASH_CURRENT_SIGNING_KEY, conf.QSTASH_NEXT_SIGNING_KEY),
    )
    data = json.loads(body)
    result = registry.get(data["task"]).run(*data["args"], **data["kwargs"])
    return JsonResponse({"status": "success", "result": result})


@shared_task(name="benchmarks.noop")
def noop(value: int) -> int:
    return value


# Both views sit at the same URLconf depth (an include), so the comparison is of the views, not
# of how deep a project nests its routes.
urlpatterns = [
    path("bare/", include([path("", bare_json_view)])),
    path("minimal/", include([path("", minimal_dispatcher_view)])),
    path("qstash/webhook/", include("django_qstash.urls")),
]
