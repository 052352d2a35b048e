"""The examples of Django's Tasks documentation (docs/topics/tasks.txt), as written there."""

from __future__ import annotations

import logging

from django.core.mail import send_mail

try:
    from django.tasks import task
except ImportError:  # Django 5.2 with the django-tasks backport
    from django_tasks import task  # type: ignore[no-redef]

from example.models import TaskRun

logger = logging.getLogger(__name__)


@task
def email_users(emails, subject, message):
    return send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)


@task(takes_context=True)
def email_users_with_context(context, emails, subject, message):
    logger.debug(
        f"Attempt {context.attempt} to send user email. Task result id: {context.task_result.id}."
    )
    return send_mail(subject=subject, message=message, from_email=None, recipient_list=emails)


@task()
def process_data(data):
    return data


@task()
def double_dictionary(key):
    return {key: key * 2}


@task
def my_task(thing_num):
    # The docs' Thing.objects.get(num=thing_num), with the sample project's model.
    TaskRun.objects.get(key=str(thing_num))


@task()
def calculate_meaning_of_life() -> int:
    return 42


@task
def fail_with_value_error():
    raise ValueError("no meaning")
