"""What became of messages: the log events and the dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django_qstash.devserver.message import Message
from django_qstash.devserver.store.database import Database, where_clause
from django_qstash.devserver.store.records import DlqEntry

#: Log events kept; older ones are pruned so a long-running server stays small.
MAX_EVENTS = 50_000


class OutcomeTables(Database):
    def add_event(self, time_ms: int, message: Message, state: str, data: dict[str, Any]) -> None:
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO events (time_ms, message_id, state, url, topic_name, queue_name,"
                " schedule_id, label, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time_ms,
                    message.id,
                    state,
                    message.url,
                    message.topic_name,
                    message.queue_name,
                    message.schedule_id,
                    message.label,
                    json.dumps(data),
                ),
            )
            event_id = cursor.lastrowid or 0
            if event_id % 1000 == 0:
                db.execute("DELETE FROM events WHERE id <= ?", (event_id - MAX_EVENTS,))

    def list_events(self, filters: dict[str, Any], limit: int) -> list[tuple[int, dict[str, Any]]]:
        where, params = where_clause(filters)
        rows = self._query(
            f"SELECT id, data FROM events{where} ORDER BY id DESC LIMIT {int(limit)}", params
        )
        return [(int(row[0]), json.loads(row[1])) for row in rows]

    # ---------------------------------------------------------------- DLQ

    def add_dlq(self, entry: DlqEntry) -> None:
        message = entry.message
        data = {
            "message": message.to_data(),
            "retried": entry.retried,
            "responseHeader": entry.response_headers,
            "error": entry.error,
        }
        with self.transaction() as db:
            db.execute(
                "INSERT INTO dlq (dlq_id, time_ms, message_id, url, topic_name, queue_name,"
                " schedule_id, label, caller_ip, response_status, data, body, response_body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.dlq_id,
                    entry.time_ms,
                    message.id,
                    message.url,
                    message.topic_name,
                    message.queue_name,
                    message.schedule_id,
                    message.label,
                    message.caller_ip,
                    entry.response_status,
                    json.dumps(data),
                    entry.body,
                    entry.response_body,
                ),
            )

    @staticmethod
    def _dlq_from_row(row: Sequence[Any]) -> tuple[int, DlqEntry]:
        data = json.loads(row[3])
        return int(row[0]), DlqEntry(
            dlq_id=str(row[1]),
            time_ms=int(row[2]),
            message=Message.from_data(data["message"]),
            body=bytes(row[4]),
            retried=int(data.get("retried", 0)),
            response_status=int(row[6] or 0),
            response_headers=data.get("responseHeader") or {},
            response_body=bytes(row[5]),
            error=data.get("error"),
        )

    def list_dlq(self, filters: dict[str, Any], limit: int | None) -> list[tuple[int, DlqEntry]]:
        where, params = where_clause(filters)
        sql = (
            "SELECT seq, dlq_id, time_ms, data, body, response_body, response_status"
            f" FROM dlq{where} ORDER BY seq DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [self._dlq_from_row(row) for row in self._query(sql, params)]

    def get_dlq(self, dlq_id: str) -> DlqEntry | None:
        rows = self.list_dlq({"dlq_id": dlq_id}, 1)
        return rows[0][1] if rows else None

    def delete_dlq(self, dlq_ids: Sequence[str]) -> int:
        with self.transaction() as db:
            return sum(
                db.execute("DELETE FROM dlq WHERE dlq_id = ?", (i,)).rowcount for i in dlq_ids
            )
