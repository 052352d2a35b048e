"""The results app's chord counters: core's ``ChordStore``, one atomic update per outcome.

A header task's outcome is a :class:`ChordPart` row (unique per chord and position, so a
redelivery adds nothing) and, in the same transaction, a decrement of the counter. The call
that completes the chord is the one whose conditional ``UPDATE ... WHERE state = PENDING``
changes a row: the database decides, on SQLite and PostgreSQL alike, so the body is published
once even when two header tasks finish at the same moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, router, transaction
from django.db.models import F
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.models import ChordCounter, ChordPart, ChordState
from django_qstash.results.store import jsonable_result


class DatabaseChordStore:
    """Chord counters in the results app's tables (registered in ``AppConfig.ready()``)."""

    def __repr__(self) -> str:
        return "<DatabaseChordStore>"

    def chord_started(self, chord_id: str, size: int, body: Mapping[str, Any]) -> None:
        ChordCounter.objects.create(chord_id=chord_id, size=size, remaining=size, body=dict(body))

    def chord_part_done(
        self, chord_id: str, index: int, *, task_id: str, succeeded: bool, value: Any
    ) -> hooks.ChordJoin | None:
        using = router.db_for_write(ChordCounter)
        with transaction.atomic(using=using):
            counter = ChordCounter.objects.using(using).filter(chord_id=chord_id)
            # Write first: the counter's row lock (PostgreSQL) or the write lock (SQLite) is
            # taken before anything is read, so reports of one chord run one at a time.
            if not counter.update(remaining=F("remaining")):
                return None  # a chord cleaned up (or never started): nothing to join
            pk = counter.values_list("pk", flat=True).get()
            stored, _ = jsonable_result(value)
            try:
                with transaction.atomic(using=using):
                    ChordPart.objects.using(using).create(
                        counter_id=pk,
                        index=index,
                        task_id=task_id,
                        succeeded=succeeded,
                        value=stored,
                    )
            except IntegrityError:
                pass  # a redelivery: counted already, but may still complete a released chord
            else:
                counter.filter(remaining__gt=0).update(remaining=F("remaining") - 1)
            pending = counter.filter(state=ChordState.PENDING)
            if not succeeded:
                claimed = pending.update(state=ChordState.FAILED, date_done=timezone.now())
            else:
                claimed = pending.filter(remaining=0).update(
                    state=ChordState.JOINED, date_done=timezone.now()
                )
            if not claimed:
                return None
            row = counter.values("body").get()
            parts = ChordPart.objects.using(using).filter(counter_id=pk).order_by("index")
            return hooks.ChordJoin(
                chord_id=chord_id,
                body=row["body"],
                results=[] if not succeeded else list(parts.values_list("value", flat=True)),
                failed_task_id=None if succeeded else task_id,
            )

    def chord_release(self, chord_id: str) -> None:
        ChordCounter.objects.filter(chord_id=chord_id).update(
            state=ChordState.PENDING, date_done=None
        )
