"""The sample project's settings plus the workflows the tests drive (for its live server)."""

from __future__ import annotations

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.apps.workflowapp"]
ROOT_URLCONF = "tests.workflows.server_urls"
