"""Admin pages of core (loaded by the admin's autodiscovery): the dead letters page."""

from __future__ import annotations

from django.contrib import admin

from django_qstash.dlq_admin import install

install(admin.site)
