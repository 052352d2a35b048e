"""Built-in tasks of the results app (discovered like any app's ``tasks`` module)."""

from __future__ import annotations

import logging
from typing import Any

from django_qstash import shared_task

logger = logging.getLogger("django_qstash.results")


@shared_task(name="django_qstash.results.clear_stale_results_task")
def clear_stale_results_task(
    since: int | str | None = None,
    *args: Any,
    batch_size: int | None = None,
    dry_run: bool = False,
    **kwargs: Any,
) -> dict[str, object]:
    """Delete task results older than ``since`` seconds (default DJANGO_QSTASH_RESULT_TTL) and
    expired replay-protection entries; schedule it (for example daily) to keep the tables small.

    Returns what it deleted: ``{"since", "cutoff", "results", "signatures", "dry_run"}``.
    Arguments it does not know (such as the placeholder ``args``/``kwargs`` of the schedule
    example in the README) are ignored with a warning, and so is a ``since`` that is not a
    number of seconds, so a schedule never fails because of them.
    """
    from django_qstash.results.cleanup import clear_stale_results

    if args or kwargs:
        logger.warning(
            "clear_stale_results_task ignores the arguments %r %r", list(args), sorted(kwargs)
        )
    seconds: int | None = None
    if since is not None:
        try:
            seconds = int(since)
            if seconds < 0:
                raise ValueError(since)
        except (TypeError, ValueError):
            logger.warning(
                "clear_stale_results_task: since=%r is not a number of seconds >= 0; "
                "using DJANGO_QSTASH_RESULT_TTL",
                since,
            )
            seconds = None
    report = clear_stale_results(seconds, batch_size=batch_size, dry_run=bool(dry_run))
    logger.info(
        "clear_stale_results_task %s %d task results and %d expired signatures older than %s",
        "would delete" if report.dry_run else "deleted",
        report.results,
        report.signatures,
        report.cutoff.isoformat(),
    )
    return report.as_dict()
