from __future__ import annotations

from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "django_qstash.schedules"
    label = "django_qstash_schedules"
    verbose_name = "django-qstash schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from django_qstash.schedules import runs, signals
        from django_qstash.schedules.checks import check_settings

        checks.register(check_settings, "django_qstash_schedules")
        signals.connect()
        runs.connect()
