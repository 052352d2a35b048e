from __future__ import annotations

from django.apps import AppConfig


class DjangoQStashConfig(AppConfig):
    name = "django_qstash"
    label = "django_qstash"
    verbose_name = "django-qstash"

    def ready(self) -> None:
        from django.core import checks

        from django_qstash import checks as qstash_checks
        from django_qstash.discovery.utils import autodiscover

        checks.register(qstash_checks.check_settings)
        checks.register(qstash_checks.check_deploy_settings, deploy=True)
        checks.register(qstash_checks.check_webhook_route, checks.Tags.urls)
        autodiscover()
