"""SQLite persistence: messages, schedules, queues, URL groups, the DLQ, logs and keys.

One connection shared by every thread behind a re-entrant lock (SQLite serialises writers
anyway), in WAL mode so a ``kill -9`` loses nothing that was acknowledged. Messages are keyed
by their next delivery time, so a restarted server resumes pending messages and redelivers the
ones that were in flight.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django_qstash.devserver.message import Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    due_ms INTEGER NOT NULL,
    in_flight INTEGER NOT NULL DEFAULT 0,
    retried INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    queue_name TEXT,
    flow_key TEXT,
    data TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (in_flight, due_ms);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (queue_name, seq);
CREATE TABLE IF NOT EXISTS dedup (key TEXT PRIMARY KEY, message_id TEXT NOT NULL,
                                  expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    url TEXT,
    topic_name TEXT,
    queue_name TEXT,
    schedule_id TEXT,
    label TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_message ON events (message_id);
CREATE TABLE IF NOT EXISTS dlq (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    dlq_id TEXT NOT NULL UNIQUE,
    time_ms INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    url TEXT,
    topic_name TEXT,
    queue_name TEXT,
    schedule_id TEXT,
    label TEXT,
    caller_ip TEXT,
    response_status INTEGER,
    data TEXT NOT NULL,
    body BLOB NOT NULL,
    response_body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS schedules (
    id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    next_ms INTEGER,
    paused INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    parallelism INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    endpoints TEXT NOT NULL
);
"""

#: Log events kept; older ones are pruned so a long-running server stays small.
MAX_EVENTS = 50_000
#: How often the WAL is copied back into the database file (off the request path).
CHECKPOINT_SECONDS = 1.0


@dataclass
class StoredMessage:
    message: Message
    body: bytes
    retried: int
    due_ms: int
    in_flight: bool
    cancel_requested: bool
    seq: int


@dataclass
class DlqEntry:
    dlq_id: str
    time_ms: int
    message: Message
    body: bytes
    retried: int
    response_status: int
    response_headers: dict[str, list[str]]
    response_body: bytes
    error: str | None


@dataclass
class Schedule:
    id: str
    created_ms: int
    next_ms: int | None
    paused: bool
    destination: str
    cron: str
    template: Message
    body: bytes
    last_ms: int | None = None
    last_states: dict[str, str] | None = None
    error: str | None = None

    def data(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "cron": self.cron,
            "template": self.template.to_data(),
            "last_ms": self.last_ms,
            "last_states": self.last_states,
            "error": self.error,
        }


@dataclass
class Queue:
    name: str
    parallelism: int
    paused: bool
    created_ms: int
    updated_ms: int


@dataclass
class Topic:
    name: str
    created_ms: int
    updated_ms: int
    endpoints: list[dict[str, str]]


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


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """``column op ?`` clauses for the non-empty filters (keys are ``"column op"``)."""
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in filters.items():
        if value is None:
            continue
        column, _, op = key.partition(" ")
        if op == "in":
            values = list(value)
            clauses.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0")
            params.extend(values)
        else:
            clauses.append(f"{column} {op or '='} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout = 5000")
        self._checkpointer: threading.Thread | None = None
        self._closed = threading.Event()
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a process crash; only a power cut may lose the tail.
            # Commits then never fsync; checkpoints do, so they run on their own connection
            # (below) instead of inside a commit that holds the store's lock.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA wal_autocheckpoint = 0")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="qstash-dev-checkpoint", daemon=True
            )
            self._checkpointer.start()
        self._db.executescript(SCHEMA)

    def _checkpoint_loop(self) -> None:
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 5000")
        try:
            while not self._closed.wait(CHECKPOINT_SECONDS):
                # Busy now: the next round catches up.
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            connection.close()

    def close(self) -> None:
        self._closed.set()
        if self._checkpointer is not None:
            self._checkpointer.join(timeout=5)
        with self._lock:
            if self._checkpointer is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit; nested calls join the outer transaction."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # ---------------------------------------------------------------- meta (signing keys)

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---------------------------------------------------------------- messages

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
        where, params = _where(filters)
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

    # ---------------------------------------------------------------- events (logs)

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
        where, params = _where(filters)
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
        where, params = _where(filters)
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

    # ---------------------------------------------------------------- schedules

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
