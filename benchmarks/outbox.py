"""The outbox's cost: ``.delay()`` inside ``transaction.atomic()`` with the outbox against without
it (same process, same database, same loopback QStash stub), and drain throughput in messages/s
with batch publishing against one publish per message.

SQLite (a temporary file) by default, in its default journal mode, then again in WAL mode;
``DATABASE_URL=postgres://...`` for PostgreSQL. Rows published after their commit are deleted in
bulk by the outbox's settling thread, in this process, during the measurement (its cost is in
the figures); the rows of the last second are settled before the table is checked empty.
"""

from __future__ import annotations

import os
import time

from benchmarks._harness import compare, qstash_stub, table

DRAIN_ROWS = 2000


def main(calls: int = 300, rounds: int = 7) -> str:
    with qstash_stub() as base_url:
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings_outbox"
        import django
        from django.conf import settings

        django.setup()
        settings.QSTASH_URL = base_url
        from django.core.management import call_command
        from django.db import connection, transaction

        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_order")
            cursor.execute("CREATE TABLE bench_order (id integer PRIMARY KEY, note varchar(40))")

        import benchmarks.urls  # noqa: F401  (registers the task)
        from django_qstash import hooks
        from django_qstash.outbox import interceptor, relay, settle
        from django_qstash.outbox.conf import conf
        from django_qstash.outbox.models import OutboxMessage
        from django_qstash.registry import registry

        task = registry.get("benchmarks.noop")
        order_ids = iter(range(1, 10**9))

        def direct(with_row: bool) -> object:
            hooks.unregister_publish_interceptor(interceptor.intercept)
            return _transaction(with_row)

        def outbox(with_row: bool) -> object:
            hooks.register_publish_interceptor(interceptor.intercept)
            return _transaction(with_row)

        def _transaction(with_row: bool) -> object:
            with transaction.atomic():
                if with_row:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "INSERT INTO bench_order (id, note) VALUES (%s, %s)",
                            [next(order_ids), "an order"],
                        )
                return task.delay(1)

        vendor = connection.vendor
        bare = compare(
            {"without outbox": lambda: direct(False), "with outbox": lambda: outbox(False)},
            calls=calls,
            rounds=rounds,
            warmup=50,
        )
        with_row = compare(
            {"without outbox": lambda: direct(True), "with outbox": lambda: outbox(True)},
            calls=calls,
            rounds=rounds,
            warmup=50,
        )
        # Rows published after their commit are deleted in bulk by a background thread (at most
        # a second later); the last second's wait for it still.
        settle.settler.flush()
        assert not OutboxMessage.objects.exists(), "every outbox row was published and deleted"
        out = [
            table(f"transaction.atomic() + .delay(), {vendor}", bare, "without outbox"),
            table(f"the same with one INSERT of your own, {vendor}", with_row, "without outbox"),
        ]
        if vendor == "sqlite":
            # The default above (a rollback journal); WAL, which docs/outbox.md recommends for
            # production SQLite, below: both sides switch, durability unchanged (synchronous
            # stays at its default, printed).
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous")
                synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[cursor.fetchone()[0]]
            for title, with_row_flag in (("", False), (" with one INSERT of your own", True)):
                medians = compare(
                    {
                        "without outbox": lambda f=with_row_flag: direct(f),
                        "with outbox": lambda f=with_row_flag: outbox(f),
                    },
                    calls=calls,
                    rounds=rounds,
                    warmup=50,
                )
                out.append(
                    table(
                        f"transaction.atomic(){title} + .delay(), sqlite, journal_mode=WAL "
                        f"(synchronous={synchronous})",
                        medians,
                        "without outbox",
                    )
                )
            settle.settler.flush()
            assert not OutboxMessage.objects.exists(), "every outbox row was published and deleted"

        prepared = hooks.prepare_message("benchmarks.noop", [1])
        rates = {}
        for batch_size in (1, 100):
            rows = [
                OutboxMessage(
                    message=prepared.to_dict(),
                    task_name=prepared.task_name,
                    deduplication_id=f"outbox-bench-{batch_size}-{i}",
                )
                for i in range(DRAIN_ROWS)
            ]
            OutboxMessage.objects.bulk_create(rows, batch_size=500)
            settings.DJANGO_QSTASH_OUTBOX_BATCH_SIZE = batch_size
            conf.clear_cache()
            start = time.perf_counter()
            published = sum(report.published for report in relay.drain())
            elapsed = time.perf_counter() - start
            assert published == DRAIN_ROWS, published
            rates[batch_size] = DRAIN_ROWS / elapsed
        out.append(
            f"Drain throughput, {DRAIN_ROWS} rows, {vendor}\n"
            f"  one publish per message     {rates[1]:9.0f} msg/s\n"
            f"  batches of 100              {rates[100]:9.0f} msg/s  ({rates[100] / rates[1]:.1f}x)"
        )
        return "\n".join(out)


if __name__ == "__main__":
    print(main())
