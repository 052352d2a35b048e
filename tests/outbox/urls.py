from __future__ import annotations

from cfehome.urls import urlpatterns as sample_urlpatterns
from django.urls import include, path

urlpatterns = [
    *sample_urlpatterns,
    path("qstash/outbox/", include("django_qstash.outbox.urls")),
]
