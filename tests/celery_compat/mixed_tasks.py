"""One module, two task systems: Celery's ``shared_task`` beside django-qstash's ``stashed_task``."""

from __future__ import annotations

from celery import shared_task

from django_qstash import stashed_task

calls: list[str] = []


@shared_task
def celery_add(x: int, y: int) -> int:
    calls.append("celery_add")
    return x + y


@stashed_task
def qstash_add(x: int, y: int) -> int:
    calls.append("qstash_add")
    return x + y
