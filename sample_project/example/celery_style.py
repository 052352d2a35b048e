"""Tasks written the way Celery code is written; only the two imports are django-qstash's.

Replace them with ``from celery import chain, group, shared_task`` and this module runs under
Celery unchanged: ``tests/celery_compat/test_typical_module.py`` does exactly that and checks
that both give the same results.

Each task records its runs as ``TaskRun`` rows (task, key, value), which the tests count.
"""

from __future__ import annotations

import logging

from django.db import transaction

from django_qstash import shared_task
from django_qstash.canvas import chain, group
from example.models import TaskRun

logger = logging.getLogger(__name__)


class TemporaryError(Exception):
    """A failure worth retrying (a partner API answering 503, say)."""


def _attempt(task: str, key: str, value: object = None) -> int:
    """Record one run; return how many runs of this task and key there have been."""
    TaskRun.objects.create(task=task, key=key, value=value)
    return TaskRun.objects.filter(task=task, key=key).count()


@shared_task
def add(x, y):
    return x + y


@shared_task
def mul(x, y):
    return x * y


@shared_task(ignore_result=True)
def store(value, key):
    """The end of a chain: keep the value it was handed."""
    _attempt("celery_style.store", key, value)


@shared_task(bind=True, max_retries=3)
def fetch_page(self, key, fail_times):
    """Manual retry: ``raise self.retry(exc=exc, countdown=...)``."""
    attempt = _attempt(
        "celery_style.fetch_page", key, {"id": self.request.id, "retries": self.request.retries}
    )
    try:
        if attempt <= fail_times:
            raise TemporaryError(f"attempt {attempt} failed")
    except TemporaryError as exc:
        logger.warning("fetch_page %s: %s, retrying", key, exc)
        raise self.retry(exc=exc, countdown=1)  # noqa: B904 - Celery's idiom
    return {"attempts": attempt, "retries": self.request.retries}


@shared_task(
    bind=True,
    autoretry_for=(TemporaryError,),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    retry_kwargs={"max_retries": 5},
)
def sync_partner(self, key, fail_times):
    """Automatic retry with exponential backoff and jitter."""
    attempt = _attempt("celery_style.sync_partner", key, {"retries": self.request.retries})
    if attempt <= fail_times:
        raise TemporaryError(f"partner unavailable (attempt {attempt})")
    return attempt


@shared_task(autoretry_for=(TemporaryError,), retry_kwargs={"max_retries": 2})
def import_file(key):
    """Raises an error autoretry_for does not list: it fails at once, without retries."""
    _attempt("celery_style.import_file", key)
    raise ValueError(f"{key} is not a CSV file")


@shared_task(queue="emails", time_limit=30)
def send_email(key, to):
    _attempt("celery_style.send_email", key, {"to": to})
    return f"sent to {to}"


@shared_task(bind=True)
def audit(self, key):
    """Reads a custom header sent with ``apply_async(headers=...)``."""
    tenant = (self.request.headers or {}).get("tenant")
    _attempt("celery_style.audit", key, {"tenant": tenant})
    return tenant


@shared_task
def report_failure(task_id):
    """An errback (``link_error``): Celery's classic form receives only the failed task's id."""
    _attempt("celery_style.report_failure", task_id)


@shared_task
def notify(key, order):
    _attempt("celery_style.notify", key, {"order": order})


def place_order(key, order):
    """Typical view code: write, then notify once the transaction commits."""
    with transaction.atomic():
        TaskRun.objects.create(task="celery_style.place_order", key=key, value=order)
        notify.delay_on_commit(key, order)


def arithmetic_chain(key):
    """(2 + 2) * 8, stored: each step receives the result of the one before."""
    return chain(add.s(2, 2), mul.s(8), store.s(key)).delay()


def fan_out(key, count):
    """One message per item, in a single batch."""
    return group(store.s(n, key) for n in range(count)).delay()
