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


@shared_task(name="benchmarks.noop")
def noop(value: int) -> int:
    return value


# Both views sit at the same URLconf depth (an include), so the comparison is of the views, not
# of how deep a project nests its routes.
urlpatterns = [
    path("bare/", include([path("", bare_json_view)])),
    path("qstash/webhook/", include("django_qstash.urls")),
]
