"""Exceptions the results app stores (and ``AsyncResult`` raises again)."""

from __future__ import annotations


class TaskExpired(Exception):
    """The message arrived after its ``expires`` time, so its task was not run."""
