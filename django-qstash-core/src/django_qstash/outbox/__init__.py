"""The transactional outbox: a task enqueued in a committed transaction is never lost.

Add ``"django_qstash.outbox"`` to INSTALLED_APPS and migrate. Inside ``transaction.atomic()``,
``.delay()``/``.apply_async()``/``group`` and the Tasks backend write the prepared message to
the outbox table in the same transaction; it is published right after the commit, and retried
(by the next publish, ``manage.py drain_outbox`` or the signed drain endpoint) until QStash has
it. Core knows nothing of this app: it plugs in through ``hooks.register_publish_interceptor``.
"""
