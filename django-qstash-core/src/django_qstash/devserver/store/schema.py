"""The dev server's SQLite schema: one table per resource, created when missing."""

from __future__ import annotations

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
