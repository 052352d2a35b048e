"""The official Upstash Workflow SDK, imported on first use with a clear error when missing."""

from __future__ import annotations

from types import ModuleType

from django.core.exceptions import ImproperlyConfigured

EXTRA_HINT = 'pip install "django-qstash-core[workflows]"'


def require_sdk() -> ModuleType:
    """The ``upstash_workflow`` module, or an error that names the extra to install."""
    try:
        import upstash_workflow
    except ImportError as exc:
        raise ImproperlyConfigured(
            "django_qstash.workflows needs the Upstash Workflow SDK (upstash-workflow), which is "
            f"not installed: {EXTRA_HINT}"
        ) from exc
    module: ModuleType = upstash_workflow
    return module
