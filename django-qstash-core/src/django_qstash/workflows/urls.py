"""``path("workflows/", include("django_qstash.workflows.urls"))``: one URL per workflow.

Each registered workflow is served at ``<prefix><its name>/``.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from django_qstash.workflows.definition import URL_NAMESPACE
from django_qstash.workflows.registry import all_workflows
from django_qstash.workflows.views import view_for

app_name = URL_NAMESPACE

urlpatterns: list[URLPattern] = [
    path(f"{definition.name}/", view_for(definition), name=definition.name)
    for definition in all_workflows()
]
