"""A view's work in a process of its own, run with a live outbox site's environment:
``python -m tests.outbox.enqueue KEY COUNT [--group|--on-commit|--publish] [--rollback]
[--kill-after-commit]``.

One transaction writes an ``order`` row and enqueues COUNT ``record(KEY, i)`` tasks (``.delay()``
each, ``delay_on_commit()`` each, one ``group``, or ``django_qstash.publish()`` of the task's
body to the webhook URL each, as to any URL; it prints the ids ``publish()`` returned). ``--kill-after-commit`` SIGKILLs the process right after the commit,
before the outbox's own on-commit publish runs; ``--rollback`` rolls the transaction back.
"""

from __future__ import annotations

import argparse
import os
import signal


class Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("key")
    parser.add_argument("count", type=int)
    parser.add_argument("--group", action="store_true")
    parser.add_argument("--on-commit", action="store_true", help="delay_on_commit() each")
    parser.add_argument("--publish", action="store_true", help="django_qstash.publish() each")
    parser.add_argument("--rollback", action="store_true")
    parser.add_argument("--kill-after-commit", action="store_true")
    options = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from django_qstash import group, publish
    from django_qstash.hooks import build_message, webhook_url
    from example.models import TaskRun
    from example.tasks import record

    try:
        with transaction.atomic():
            TaskRun.objects.create(task="order", key=options.key)
            if options.kill_after_commit:
                # Registered first, so it runs before the outbox's publish callback.
                transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
            if options.group:
                group(record.s(options.key, i) for i in range(options.count)).apply_async()
            elif options.publish:
                for i in range(options.count):
                    body = build_message(record.name, [options.key, i])
                    print(
                        "published", publish(webhook_url(), body, content_type="application/json")
                    )
            elif options.on_commit:
                for i in range(options.count):
                    record.delay_on_commit(options.key, i)
            else:
                for i in range(options.count):
                    record.delay(options.key, i)
            if options.rollback:
                raise Rollback
    except Rollback:
        print("rolled back")
        return
    print("committed")


if __name__ == "__main__":
    main()
