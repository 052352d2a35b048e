"""The row claim mode: a committed STARTED row claims the message (two commits per delivery).

1. :meth:`RowClaims.claim`, one transaction: remember the signature's ``jti`` (a replayed token
   fails on its primary key), then look at the message's row (``SELECT ... FOR UPDATE`` where
   the database has it) and either create it as STARTED, move it to STARTED, or leave it alone
   and tell core not to run the task.
2. :meth:`RowClaims.write`, one ``UPDATE`` of that row.

A STARTED row younger than ``DJANGO_QSTASH_RESULTS_STARTED_LEASE`` means a delivery is running
(409); an older one means its worker died, and the message is claimed again. Works on every
database and across any number of hosts.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from django_qstash import hooks
from django_qstash.results.claims.base import (
    ClaimStrategy,
    handled,
    new_row,
    remember_signature,
    started,
)
from django_qstash.results.conf import conf
from django_qstash.results.models import TaskResult, TaskStatus

logger = logging.getLogger("django_qstash.results")

#: How often a claim starts over after losing the race to insert a message's row.
CLAIM_ATTEMPTS = 3


class RowClaims(ClaimStrategy):
    mode = "row"

    def __repr__(self) -> str:
        return "<RowClaims>"

    def claim(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        for _ in range(CLAIM_ATTEMPTS):
            jti_recorded = False
            try:
                with transaction.atomic(using=using):
                    remember_signature(delivery, using)
                    jti_recorded = True
                    return self._claim_row(delivery, using)
            except IntegrityError:
                if not jti_recorded:
                    return hooks.ClaimDecision.REPLAYED
                # Another delivery of this message inserted its row between our SELECT and our
                # INSERT; everything was rolled back, so look again.
                continue
        raise RuntimeError(
            f"could not claim message {delivery.message_id}: its row kept changing under "
            f"{CLAIM_ATTEMPTS} attempts"
        )

    def _claim_row(self, delivery: hooks.Delivery, using: str) -> hooks.ClaimDecision:
        now = timezone.now()
        rows = TaskResult.objects.using(using)
        found = list(
            rows.select_for_update()
            .filter(task_id=delivery.message_id)
            .values_list("pk", "status", "date_started", "republished")[:1]
        )
        if not found:
            rows.create(**new_row(delivery, date_created=now, **started(delivery, now)))
            return hooks.ClaimDecision.RUN

        pk, status, date_started, republished = found[0]
        if handled(status, republished):
            return hooks.ClaimDecision.ALREADY_SUCCEEDED
        if status == TaskStatus.STARTED and date_started is not None:
            age = (now - date_started).total_seconds()
            if age < conf.STARTED_LEASE:
                return hooks.ClaimDecision.IN_PROGRESS
            logger.warning(
                "Message %s of %s was STARTED %.0f s ago and never finished (longer than "
                "DJANGO_QSTASH_RESULTS_STARTED_LEASE = %s s): running it again",
                delivery.message_id,
                delivery.task_name,
                age,
                conf.STARTED_LEASE,
            )
        rows.filter(pk=pk).update(**started(delivery, now))
        return hooks.ClaimDecision.RUN
