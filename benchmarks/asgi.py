"""The ASGI application of benchmarks/async_publish.py (benchmark settings, async views)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings_async")
application = get_asgi_application()
