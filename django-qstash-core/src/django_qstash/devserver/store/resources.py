"""The resources a user manages through the API: schedules, queues and URL groups (topics)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django_qstash.devserver.message import Message
from django_qstash.devserver.store.database import Database
from django_qstash.devserver.store.records import Queue, Schedule, Topic


class ResourceTables(Database):
    def save_schedule(self, schedule: Schedule) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO schedules (id, created_ms, next_ms, paused, data, body)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    schedule.id,
                    schedule.created_ms,
                    schedule.next_ms,
                    int(schedule.paused),
                    json.dumps(schedule.data()),
                    schedule.body,
                ),
            )

    @staticmethod
    def _schedule_from_row(row: Sequence[Any]) -> Schedule:
        data = json.loads(row[4])
        return Schedule(
            id=str(row[0]),
            created_ms=int(row[1]),
            next_ms=None if row[2] is None else int(row[2]),
            paused=bool(row[3]),
            destination=data["destination"],
            cron=data["cron"],
            template=Message.from_data(data["template"]),
            body=bytes(row[5]),
            last_ms=data.get("last_ms"),
            last_states=data.get("last_states"),
            error=data.get("error"),
        )

    def get_schedule(self, schedule_id: str) -> Schedule | None:
        rows = self._query(
            "SELECT id, created_ms, next_ms, paused, data, body FROM schedules WHERE id = ?",
            (schedule_id,),
        )
        return self._schedule_from_row(rows[0]) if rows else None

    def list_schedules(self) -> list[Schedule]:
        rows = self._query(
            "SELECT id, created_ms, next_ms, paused, data, body FROM schedules ORDER BY created_ms"
        )
        return [self._schedule_from_row(row) for row in rows]

    def due_schedules(self, now_ms: int) -> list[Schedule]:
        rows = self._query(
            "SELECT id, created_ms, next_ms, paused, data, body FROM schedules"
            " WHERE paused = 0 AND next_ms IS NOT NULL AND next_ms <= ? ORDER BY next_ms",
            (now_ms,),
        )
        return [self._schedule_from_row(row) for row in rows]

    def next_schedule_ms(self) -> int | None:
        rows = self._query("SELECT MIN(next_ms) FROM schedules WHERE paused = 0")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def delete_schedule(self, schedule_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount > 0

    # ---------------------------------------------------------------- queues

    def get_queue(self, name: str) -> Queue | None:
        rows = self._query(
            "SELECT name, parallelism, paused, created_ms, updated_ms FROM queues WHERE name = ?",
            (name,),
        )
        return (
            Queue(str(rows[0][0]), int(rows[0][1]), bool(rows[0][2]), *rows[0][3:])
            if rows
            else None
        )

    def list_queues(self) -> list[Queue]:
        rows = self._query(
            "SELECT name, parallelism, paused, created_ms, updated_ms FROM queues ORDER BY name"
        )
        return [Queue(str(r[0]), int(r[1]), bool(r[2]), int(r[3]), int(r[4])) for r in rows]

    def upsert_queue(
        self, name: str, *, now_ms: int, parallelism: int | None = None, paused: bool | None = None
    ) -> Queue:
        with self.transaction():
            existing = self.get_queue(name)
            queue = existing or Queue(name, 1, False, now_ms, now_ms)
            if parallelism is not None:
                queue.parallelism = parallelism
            if paused is not None:
                queue.paused = paused
            if existing is not None and (parallelism is not None or paused is not None):
                queue.updated_ms = now_ms
            self._db.execute(
                "INSERT OR REPLACE INTO queues (name, parallelism, paused, created_ms, updated_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    queue.name,
                    queue.parallelism,
                    int(queue.paused),
                    queue.created_ms,
                    queue.updated_ms,
                ),
            )
            return queue

    def delete_queue(self, name: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM queues WHERE name = ?", (name,)).rowcount > 0

    # ---------------------------------------------------------------- URL groups (topics)

    def get_topic(self, name: str) -> Topic | None:
        rows = self._query(
            "SELECT name, created_ms, updated_ms, endpoints FROM topics WHERE name = ?", (name,)
        )
        if not rows:
            return None
        return Topic(str(rows[0][0]), int(rows[0][1]), int(rows[0][2]), json.loads(rows[0][3]))

    def list_topics(self) -> list[Topic]:
        rows = self._query(
            "SELECT name, created_ms, updated_ms, endpoints FROM topics ORDER BY name"
        )
        return [Topic(str(r[0]), int(r[1]), int(r[2]), json.loads(r[3])) for r in rows]

    def save_topic(self, topic: Topic) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO topics (name, created_ms, updated_ms, endpoints)"
                " VALUES (?, ?, ?, ?)",
                (topic.name, topic.created_ms, topic.updated_ms, json.dumps(topic.endpoints)),
            )

    def delete_topic(self, name: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM topics WHERE name = ?", (name,)).rowcount > 0
