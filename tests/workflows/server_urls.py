"""The sample project's URLs plus the SDK example's ``/get-data`` route."""

from __future__ import annotations

from cfehome.urls import urlpatterns as sample_urlpatterns
from django.urls import path

from tests.apps.workflowapp.sdk_examples import get_data

urlpatterns = [*sample_urlpatterns, path("get-data", get_data)]
