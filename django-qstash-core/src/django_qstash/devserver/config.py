"""The dev server's settings, from the command line (``python -m django_qstash.devserver``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django_qstash.devserver.credentials import DEFAULT_HOST, DEFAULT_PORT

#: Where ``--db`` defaults to, shown in ``--help`` (see ``default_db_path``).
DEFAULT_DB_DESCRIPTION = "$XDG_STATE_HOME/django-qstash/qstash-dev-PORT.db (~/.local/state/...)"
#: ``--fast-retries`` multiplies every retry wait (backoff, Retry-After, retry-delay) by this.
FAST_RETRY_SCALE = 0.001
#: Seconds an attempt may take when the message sets no ``Upstash-Timeout`` (Free plan's 15 min).
DEFAULT_TIMEOUT = 900.0
#: How long a deduplication id (or content hash) is remembered (QStash docs: 10 minutes).
DEDUP_WINDOW_MS = 10 * 60 * 1000


def default_db_path(port: int) -> str:
    """The dev server's SQLite file when ``--db`` is not given: in the user's state directory, not
    the current one (where it would end up in a project's ``git add .``), one per port so that
    two dev servers never share their messages."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    name = f"qstash-dev-{port}.db" if port else "qstash-dev.db"
    return str(Path(state) / "django-qstash" / name)


@dataclass
class DevServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: SQLite file; ":memory:" keeps nothing across restarts (like the official server); empty:
    #: ``default_db_path(port)``.
    db: str = ""
    #: ``None``: user 1's public dev token.
    token: str | None = None
    #: ``None``: the keys stored in the database, else user 1's public dev keys.
    current_signing_key: str | None = None
    next_signing_key: str | None = None
    retry_scale: float = 1.0
    #: Dev only: seconds one cron minute lasts (``None``: real time).
    cron_tick: float | None = None
    max_in_flight: int = 64
    default_timeout: float = DEFAULT_TIMEOUT
    #: Log failures only (not every delivery).
    quiet: bool = False
    #: Also log every API request.
    verbose: bool = False

    def __post_init__(self) -> None:
        if not self.db:
            self.db = default_db_path(self.port)
