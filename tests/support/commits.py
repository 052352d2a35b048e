"""Counting the statements and commits a request costs on one Django connection.

Used by the tests and the benchmarks; standard library only, since the benchmark of the original
implementation imports it too, in a virtualenv of its own.
"""

from __future__ import annotations

from typing import Any

_WRITES = ("INSERT", "UPDATE", "DELETE")


def is_write(sql: str) -> bool:
    """A statement that changes rows: INSERT/UPDATE/DELETE, or a WITH that holds one."""
    text = sql.lstrip().upper()
    verb = text.split(None, 1)[0] if text else ""
    return verb in _WRITES or (verb == "WITH" and any(w in text for w in _WRITES))


def verbs(sql: str) -> str:
    """The statements of one round trip: "SELECT", or "WITH+COMMIT+SELECT" for several."""
    parts = [part.split(None, 1)[0].upper() for part in sql.split(";") if part.strip()]
    return "+".join(parts)


class CommitCounter:
    """Counts round trips and commits on one connection (implicit autocommit ones included; a
    round trip of several statements that writes commits once, with its COMMIT or on its own)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.statements: list[str] = []
        self.commits = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append(verbs(sql))
        if self.connection.get_autocommit() and is_write(sql):
            self.commits += 1  # a write outside a transaction commits on its own
        return execute(sql, params, many, context)

    def __enter__(self) -> CommitCounter:
        original = self.connection.commit

        def commit() -> None:
            self.commits += 1
            original()

        self._original = original
        self.connection.commit = commit
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._wrapper.__exit__(*exc)
        self.connection.commit = self._original

    def summary(self) -> str:
        return f"{len(self.statements)} round trips ({', '.join(self.statements)}), " + (
            f"{self.commits} commit(s)"
        )
