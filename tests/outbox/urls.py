from __future__ import annotations

from cfehome.urls import urlpatterns as sample_urlpatterns
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

urlpatterns = [
    *sample_urlpatterns,
    path("qstash/outbox/", include("django_qstash.outbox.urls")),
    # The admin's CSS and theme script under gunicorn (DEBUG off), so screenshots show the
    # pages as people see them.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
]
