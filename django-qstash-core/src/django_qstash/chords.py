"""The join of a ``chord``: header outcomes count toward it, the last one publishes the body.

A header task's message carries ``chord = {"id", "index"}``. When its delivery has a final
outcome (success, or a failure QStash will not retry), the webhook reports it here, and the
registered :class:`~django_qstash.store.ChordStore` (the results app's) counts it in one atomic
update. Only the report that completes the count gets a :class:`~django_qstash.store.ChordJoin`,
so the body is published once, however deliveries repeat or interleave; a redelivery of a
header task reports again and counts nothing new.
"""

from __future__ import annotations

import logging
from typing import Any

from django_qstash.signatures import as_signature, signature_list
from django_qstash.store import Delivery
from django_qstash.store_registry import get_chord_store

logger = logging.getLogger("django_qstash")


def report(delivery: Delivery, *, succeeded: bool, value: Any) -> None:
    """Count a header task's final outcome toward its chord; publish what follows if complete.

    Raises what publishing raises, after releasing the completion so that QStash's redelivery
    of this header task completes the chord again.
    """
    reference = delivery.options.get("chord")
    store = get_chord_store()
    if not isinstance(reference, dict) or store is None:
        return
    chord_id = str(reference["id"])
    task_id = str(delivery.options.get("task_id") or delivery.message_id)
    join = store.chord_part_done(
        chord_id, int(reference["index"]), task_id=task_id, succeeded=succeeded, value=value
    )
    if join is None:
        return
    try:
        _continue(join)
    except Exception:
        store.chord_release(chord_id)
        raise


def _continue(join: Any) -> None:
    body = as_signature(join.body)
    if join.failed_task_id is None:
        logger.info("Chord %s complete: publishing its body %s", join.chord_id, body.task)
        body.apply_async((join.results,))
        return
    logger.info("Chord %s failed (header task %s)", join.chord_id, join.failed_task_id)
    for index, errback in enumerate(signature_list(body["options"].get("link_error"))):
        errback.apply_async(
            (join.failed_task_id,), deduplication_id=f"{join.chord_id}.link_error.{index}"
        )
