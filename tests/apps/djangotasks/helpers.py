"""A module of an installed app that holds no task at all."""

from __future__ import annotations


def remove_everything() -> str:
    return "must never run from a message"
