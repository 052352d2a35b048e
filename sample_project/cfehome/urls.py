from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from example import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("qstash/webhook/", include("django_qstash.urls")),
    path("workflows/", include("django_qstash.workflows.urls")),
    path("enqueue/", views.enqueue),
    path("hooks/received/", views.received),
    path("hooks/received-async/", views.received_async),
]
