"""A module of an installed app that cannot be imported (a dependency is missing)."""

from __future__ import annotations

import a_module_that_is_not_installed  # type: ignore[import-not-found]  # noqa: F401
