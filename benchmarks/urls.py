from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
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


# Every view sits at the same URLconf depth (an include), so the comparison is of the views, not
# of how deep a project nests its routes.
BARE = path("bare/", include([path("", bare_json_view)]))
MINIMAL = path("minimal/", include([path("", minimal_dispatcher_view)]))
WEBHOOK = path("qstash/webhook/", include("django_qstash.urls"))

urlpatterns = [BARE, MINIMAL, WEBHOOK]


class Alone:
    """A URLconf holding one route: a request resolves it first time, whichever view it is.

    In one URLconf a view further down pays for every route tried before it (about 1 µs each),
    which would measure route order, not the view.
    """

    def __init__(self, route: URLPattern | URLResolver) -> None:
        self.urlpatterns = [route]
