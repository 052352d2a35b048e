"""URLs of the startup baseline: the bare JSON view alone, django_qstash never imported."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare_json_view(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    return JsonResponse({"status": "success", "task": data.get("task")})


urlpatterns = [path("bare/", bare_json_view)]
