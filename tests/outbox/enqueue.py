"""A view's work in a process of its own, run with a live outbox site's environment:
``python -m tests.outbox.enqueue KEY COUNT [--group|--on-commit|--publish] [--rollback]
[--kill-after-commit|--kill-after-publish] [--stay SECONDS] [--count-queries]``.

One transaction writes an ``order`` row and enqueues COUNT ``record(KEY, i)`` tasks (``.delay()``
each, ``delay_on_commit()`` each, one ``group``, or ``django_qstash.publish()`` of the task's
body to the webhook URL each, as to any URL; it prints the ids ``publish()`` returned). ``--kill-after-commit`` SIGKILLs the process right after the commit,
before the outbox's own on-commit publish runs; ``--kill-after-publish`` right after that publish
(before the published rows are settled); ``--rollback`` rolls the transaction back. ``--stay``
keeps the process alive that long after the commit. ``--count-queries`` runs one transaction first
(the process's first publish also looks for rows left behind), then prints, as JSON, the SQL
statements of the second: those inside the transaction and those after its commit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time


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
    parser.add_argument("--kill-after-publish", action="store_true")
    parser.add_argument("--stay", type=float, default=0.0)
    parser.add_argument("--count-queries", action="store_true")
    options = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from django_qstash import group, publish
    from django_qstash.hooks import build_message, webhook_url
    from example.models import TaskRun
    from example.tasks import record

    if options.count_queries:
        with transaction.atomic():
            record.delay(options.key, -1)
        with CaptureQueriesContext(connection) as queries:
            with transaction.atomic():
                TaskRun.objects.create(task="order", key=options.key)
                for i in range(options.count):
                    record.delay(options.key, i)
                inside = len(queries.captured_queries)
        statements = [query["sql"] for query in queries.captured_queries]
        print(json.dumps({"in_transaction": statements[:inside], "after": statements[inside:]}))
        return
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
            if options.kill_after_publish:
                # Registered last, so it runs after the outbox's publish callbacks.
                transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
            if options.rollback:
                raise Rollback
    except Rollback:
        print("rolled back")
        return
    print("committed", flush=True)
    time.sleep(options.stay)


if __name__ == "__main__":
    main()
