"""Names a package re-exports, each imported from its own module when first read (PEP 562).

``django_qstash``, ``django_qstash.hooks`` and ``django_qstash.workflows`` offer many names
but must stay cheap to import (``django.setup()`` and a fresh process import them): each gives
this the table of where its names live and uses the two functions it returns as the module's
``__getattr__`` and ``__dir__``. A name read once is stored in the module, so later reads are
plain attribute lookups. Imports nothing of django_qstash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(
    module_name: str, homes: Mapping[str, str], namespace: dict[str, Any], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module ``module_name`` whose globals are
    ``namespace``: ``homes`` maps each lazily imported name to the module that defines it."""
    public = tuple(public)

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *public})

    return __getattr__, __dir__
