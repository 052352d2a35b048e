"""The sample project's settings, plus the tasks of ``tests.reliability.liveapp``."""

from __future__ import annotations

from cfehome.settings import *  # noqa: F403
from cfehome.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.reliability.liveapp"]
