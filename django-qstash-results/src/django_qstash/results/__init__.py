"""django-qstash-results: store task outcomes in the Django database.

Add ``"django_qstash.results"`` to ``INSTALLED_APPS`` and run
``python manage.py migrate django_qstash_results``. Importing this package loads no models, so
``django_qstash.results.clear_stale_results_task`` is resolved on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["clear_stale_results_task"]

if TYPE_CHECKING:
    from django_qstash.results.tasks import clear_stale_results_task


def __getattr__(name: str) -> Any:
    if name == "clear_stale_results_task":
        from django_qstash.results.tasks import clear_stale_results_task

        return clear_stale_results_task
    raise AttributeError(f"module 'django_qstash.results' has no attribute {name!r}")
