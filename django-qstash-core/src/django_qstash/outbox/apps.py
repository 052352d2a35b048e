from __future__ import annotations

from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "django_qstash.outbox"
    label = "django_qstash_outbox"
    verbose_name = "QStash outbox"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_qstash import hooks
        from django_qstash.outbox import checks, interceptor

        hooks.register_publish_interceptor(interceptor.intercept)
        checks.register()
