"""The webhook route: ``include("django_qstash.urls")`` at DJANGO_QSTASH_WEBHOOK_PATH."""

from __future__ import annotations

from django.urls import path

from django_qstash.views import qstash_webhook_view

app_name = "django_qstash"

urlpatterns = [
    path("", qstash_webhook_view, name="webhook"),
]
