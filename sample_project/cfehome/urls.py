from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("qstash/webhook/", include("django_qstash.urls")),
    path("workflows/", include("django_qstash.workflows.urls")),
]
