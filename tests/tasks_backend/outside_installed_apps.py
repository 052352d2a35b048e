"""A module outside every installed app's package: no message may make the webhook import it."""

from __future__ import annotations

IMPORTED = True


def run() -> str:
    return "must never run from a message"
