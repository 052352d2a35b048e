from __future__ import annotations

from django.urls import path

from django_qstash.outbox.views import drain_view

app_name = "django_qstash_outbox"
urlpatterns = [path("drain/", drain_view, name="drain")]
