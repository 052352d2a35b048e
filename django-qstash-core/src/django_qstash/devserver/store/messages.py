"""The messages waiting or in flight, keyed by their next delivery time, and the dedup window.

A restarted server resumes pending messages and redelivers the ones that were in flight.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django_qstash.devserver.message import Message
from django_qstash.devserver.store.database import Database, where_clause
from django_qstash.devserver.store.records import StoredMessage

_MESSAGE_COLUMNS = "data, body, retried, due_ms, in_flight, cancel_requested, seq"


def _message_from_row(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        message=Message.from_data(json.loads(row[0])),
        body=bytes(row[1]),
        retried=int(row[2]),
        due_ms=int(row[3]),
        in_flight=bool(row[4]),
        cancel_requested=bool(row[5]),
        seq=int(row[6]),
    )


class MessageTables(Database):
    def recover(self) -> int:
        """After a restart: attempts that never completed are delivered again."""
        with self.transaction() as db:
            cursor = db.execute("UPDATE messages SET in_flight = 0 WHERE in_flight = 1")
            return cursor.rowcount

    def insert_message(self, message: Message, body: bytes, due_ms: int) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO messages (id, due_ms, queue_name, flow_key, data, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message.id,
                    due_ms,
                    message.queue_name,
                    message.flow_key,
                    json.dumps(message.to_data()),
                    body,
                ),
            )

    def get_message(self, message_id: str) -> StoredMessage | None:
        rows = self._query(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return _message_from_row(rows[0]) if rows else None

    def list_messages(
        self, filters: dict[str, Any], limit: int | None = None
    ) -> list[StoredMessage]:
        where, params = where_clause(filters)
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages{where} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_message_from_row(row) for row in self._query(sql, params)]

    def message_status(self, message_id: str) -> tuple[bool, bool] | None:
        """``(in_flight, cancel_requested)``, or ``None`` when the message is gone."""
        rows = self._query(
            "SELECT in_flight, cancel_requested FROM messages WHERE id = ?", (message_id,)
        )
        return (bool(rows[0][0]), bool(rows[0][1])) if rows else None

    def delete_message(self, message_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount > 0

    def request_cancel(self, message_id: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE messages SET cancel_requested = 1 WHERE id = ?", (message_id,))

    def mark_in_flight(self, message_ids: Sequence[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE messages SET in_flight = 1 WHERE id = ?", [(i,) for i in message_ids]
            )

    def reschedule(self, message_id: str, *, retried: int, due_ms: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE messages SET in_flight = 0, retried = ?, due_ms = ? WHERE id = ?",
                (retried, due_ms, message_id),
            )

    def due_messages(
        self, now_ms: int, where: str, params: Sequence[Any], limit: int
    ) -> list[StoredMessage]:
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE in_flight = 0 AND due_ms <= ?"
            f" AND {where} ORDER BY due_ms, seq LIMIT {int(limit)}"
        )
        return [_message_from_row(row) for row in self._query(sql, (now_ms, *params))]

    def due_flow_keys(self, now_ms: int) -> list[str]:
        rows = self._query(
            "SELECT DISTINCT flow_key FROM messages WHERE in_flight = 0 AND due_ms <= ?"
            " AND flow_key IS NOT NULL AND queue_name IS NULL",
            (now_ms,),
        )
        return [str(row[0]) for row in rows]

    def queue_heads(self, queue_name: str, limit: int) -> list[StoredMessage]:
        """The queue's messages that have not started yet, oldest first (FIFO)."""
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE queue_name = ? AND in_flight = 0"
            f" AND retried = 0 ORDER BY seq LIMIT {int(limit)}"
        )
        return [_message_from_row(row) for row in self._query(sql, (queue_name,))]

    def queue_activity(self) -> dict[str, tuple[int, int]]:
        """Per queue with messages: (messages started and not finished, messages waiting)."""
        rows = self._query(
            "SELECT queue_name, SUM(in_flight = 1 OR retried > 0), COUNT(*) FROM messages"
            " WHERE queue_name IS NOT NULL GROUP BY queue_name"
        )
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}

    def next_due_ms(self, after_ms: int) -> int | None:
        rows = self._query(
            "SELECT MIN(due_ms) FROM messages WHERE in_flight = 0 AND due_ms > ?", (after_ms,)
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def count_messages(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM messages")[0][0])

    # ---------------------------------------------------------------- deduplication

    def find_duplicate(self, key: str, now_ms: int) -> str | None:
        rows = self._query(
            "SELECT message_id FROM dedup WHERE key = ? AND expires_ms > ?", (key, now_ms)
        )
        return str(rows[0][0]) if rows else None

    def remember_dedup(self, key: str, message_id: str, expires_ms: int, now_ms: int) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM dedup WHERE expires_ms <= ?", (now_ms,))
            db.execute(
                "INSERT OR REPLACE INTO dedup (key, message_id, expires_ms) VALUES (?, ?, ?)",
                (key, message_id, expires_ms),
            )
