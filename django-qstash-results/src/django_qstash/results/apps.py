from __future__ import annotations

from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "django_qstash.results"
    label = "django_qstash_results"
    verbose_name = "django-qstash results"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from django_qstash import hooks
        from django_qstash.results import checks as results_checks
        from django_qstash.results.chords import DatabaseChordStore
        from django_qstash.results.store import DatabaseResultStore

        checks.register(results_checks.check_settings)

        hooks.register_result_store(DatabaseResultStore())
        hooks.register_chord_store(DatabaseChordStore())
