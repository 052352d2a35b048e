"""Upstash Workflow runs: what the official workflow SDK needs from a QStash server.

A run starts with a message carrying ``Upstash-Workflow-Init: true`` (its body is the run's
initial payload); every later message of the run without a call type carries one finished step.
Each delivery of a run's message carries, instead of the published body, the run's step list up
to and including that step: ``[{messageId, body: base64(...), callType: "step"}, ...]``, the
initial payload first. Runs and steps live in SQLite beside the messages, so a restarted server
continues every run where it was.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django_qstash.devserver import ids
from django_qstash.devserver.durations import InvalidValue
from django_qstash.devserver.message import KIND_FAILURE_CALLBACK, Message

if TYPE_CHECKING:
    from django_qstash.devserver.options import Headers
    from django_qstash.devserver.store import Store

RUN_ID_HEADER = "Upstash-Workflow-RunId"
URL_HEADER = "Upstash-Workflow-Url"
INIT_HEADER = "Upstash-Workflow-Init"
CALL_TYPE_HEADER = "Upstash-Workflow-CallType"
#: A ``context.call``: a message to a third party whose answer comes back as a callback.
TO_CALLBACK = "toCallback"

# Run states, spelled as Upstash's workflow logs spell them.
RUN_STARTED = "RUN_STARTED"
RUN_SUCCESS = "RUN_SUCCESS"
RUN_FAILED = "RUN_FAILED"
RUN_CANCELED = "RUN_CANCELED"

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS workflow_runs (
        run_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        initial_body BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS workflow_steps (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        body BLOB NOT NULL,
        created_ms INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS workflow_steps_run ON workflow_steps (run_id, seq)",
)


class RunNotFound(LookupError):
    """A workflow run id the server does not know (answered with 404)."""


@dataclass
class Run:
    run_id: str
    url: str
    state: str
    created_ms: int
    updated_ms: int
    initial_body: bytes


@dataclass
class Step:
    message_id: str
    body: bytes
    created_ms: int


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _step_entry(message_id: str, body: bytes) -> dict[str, str]:
    return {"messageId": message_id, "body": _b64(body), "callType": "step"}


def initial_payload_b64(step_list: bytes) -> str | None:
    """The base64 initial payload heading a delivered step list (``None``: not a step list)."""
    try:
        entries = json.loads(step_list)
        body = entries[0]["body"]
    except (ValueError, LookupError, TypeError):
        return None
    return body if isinstance(body, str) else None


def failure_callback_fields(source: Message, body: bytes) -> dict[str, Any]:
    """What the SDK's failure function reads besides a plain failure callback's fields."""
    if not source.workflow_run_id or source.workflow_call_type == TO_CALLBACK:
        return {}
    fields: dict[str, Any] = {"workflowRunId": source.workflow_run_id}
    initial = initial_payload_b64(body)
    if initial is not None:
        fields["sourceBody"] = initial
    return fields


class WorkflowRuns:
    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._store.transaction() as db:
            return db.execute(sql, params).fetchall()

    # ---------------------------------------------------------------- publishing

    def prepare(self, message: Message, headers: Headers, body: bytes, now: int) -> bytes:
        """Bind a published message to its run; return the body to store and deliver.

        Messages without ``Upstash-Workflow-RunId`` are not workflow messages: unchanged.
        """
        run_id = (headers.get(RUN_ID_HEADER) or "").strip()
        if not run_id:
            return body
        message.workflow_run_id = run_id
        message.workflow_call_type = (headers.get(CALL_TYPE_HEADER) or "").strip() or None
        if message.workflow_call_type == TO_CALLBACK:
            self._active(run_id)  # a cancelled run makes no more calls
            return body
        url = (headers.get(URL_HEADER) or "").strip()
        init = (headers.get(INIT_HEADER) or "").strip().lower() == "true"
        # The id the delivery gets; the step list names each step by its message.
        message.id = ids.message_id()
        with self._store.transaction() as db:
            if init:
                if self.get(run_id) is not None:
                    raise InvalidValue(f"workflow run {run_id!r} exists already")
                db.execute(
                    "INSERT INTO workflow_runs (run_id, url, state, created_ms, updated_ms,"
                    " initial_body) VALUES (?, ?, ?, ?, ?, ?)",
                    (run_id, url, RUN_STARTED, now, now, body),
                )
                run_body, steps = body, []
            else:
                run = self._active(run_id)
                db.execute(
                    "INSERT INTO workflow_steps (run_id, message_id, body, created_ms)"
                    " VALUES (?, ?, ?, ?)",
                    (run_id, message.id, body, now),
                )
                run_body, steps = run.initial_body, self.steps(run_id)
        message.headers[RUN_ID_HEADER] = [run_id]
        if url:
            message.headers[URL_HEADER] = [url]
        entries = [_step_entry(f"{run_id}-init", run_body)]
        entries += [_step_entry(step.message_id, step.body) for step in steps]
        return json.dumps(entries, separators=(",", ":")).encode()

    # ---------------------------------------------------------------- runs

    def get(self, run_id: str) -> Run | None:
        rows = self._rows(
            "SELECT run_id, url, state, created_ms, updated_ms, initial_body"
            " FROM workflow_runs WHERE run_id = ?",
            (run_id,),
        )
        return Run(*rows[0]) if rows else None

    def _active(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run is None:
            raise RunNotFound(f"workflow run {run_id!r} not found")
        if run.state != RUN_STARTED:
            raise InvalidValue(f"workflow run {run_id!r} has ended ({run.state})")
        return run

    def steps(self, run_id: str) -> list[Step]:
        rows = self._rows(
            "SELECT message_id, body, created_ms FROM workflow_steps WHERE run_id = ? ORDER BY seq",
            (run_id,),
        )
        return [Step(*row) for row in rows]

    def _set_state(self, run_id: str, state: str, now: int) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE workflow_runs SET state = ?, updated_ms = ? WHERE run_id = ?",
                (state, now, run_id),
            )

    def delete(
        self, run_id: str, *, cancel: bool, cancel_message: Callable[[str], bool], now: int
    ) -> int:
        """``DELETE /v2/workflows/runs/{id}``: the SDK's cleanup after the last step
        (``cancel=False``), or a cancel, which drops every pending message of the run.
        Returns how many messages were cancelled."""
        run = self.get(run_id)
        if run is None:
            raise RunNotFound(f"workflow run {run_id!r} not found")
        if run.state != RUN_STARTED:
            return 0
        self._set_state(run_id, RUN_CANCELED if cancel else RUN_SUCCESS, now)
        if not cancel:
            return 0
        pending = [
            stored.message.id
            for stored in self._store.list_messages({})
            if stored.message.workflow_run_id == run_id
        ]
        return sum(cancel_message(message_id) for message_id in pending)

    def failed(self, message: Message, now: int) -> None:
        """A message of the run failed for good: the run cannot go on (its failure function,
        if any, is called through the failure callback)."""
        run_id = message.workflow_run_id
        if not run_id or message.workflow_call_type == TO_CALLBACK:
            return
        if message.kind == KIND_FAILURE_CALLBACK:
            return
        run = self.get(run_id)
        if run is not None and run.state == RUN_STARTED:
            self._set_state(run_id, RUN_FAILED, now)

    # ---------------------------------------------------------------- logs

    def list_runs(self, run_id: str | None, limit: int) -> list[Run]:
        sql = "SELECT run_id, url, state, created_ms, updated_ms, initial_body FROM workflow_runs"
        params: tuple[Any, ...] = ()
        if run_id:
            sql += " WHERE run_id = ?"
            params = (run_id,)
        rows = self._rows(sql + f" ORDER BY created_ms DESC LIMIT {int(limit)}", params)
        return [Run(*row) for row in rows]

    def run_to_api(self, run: Run) -> dict[str, Any]:
        steps: list[dict[str, Any]] = [
            {
                "stepId": 0,
                "stepName": "init",
                "stepType": "Initial",
                "callType": "step",
                "messageId": f"{run.run_id}-init",
                "out": run.initial_body.decode("utf-8", errors="replace"),
                "concurrent": 1,
                "state": "STEP_SUCCESS",
                "createdAt": run.created_ms,
            }
        ]
        for step in self.steps(run.run_id):
            try:
                parsed = json.loads(step.body)
            except ValueError:
                parsed = None
            data: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
            steps.append(
                {
                    "stepId": data.get("stepId"),
                    "stepName": data.get("stepName"),
                    "stepType": data.get("stepType"),
                    "callType": "step",
                    "messageId": step.message_id,
                    "out": data.get("out"),
                    "concurrent": data.get("concurrent", 1),
                    "state": "STEP_SUCCESS",
                    "createdAt": step.created_ms,
                }
            )
        run_data: dict[str, Any] = {
            "workflowRunId": run.run_id,
            "workflowUrl": run.url,
            "workflowState": run.state,
            "workflowRunCreatedAt": run.created_ms,
            "steps": [{"type": "sequential", "steps": steps}],
        }
        if run.state != RUN_STARTED:
            run_data["workflowRunCompletedAt"] = run.updated_ms
        return run_data
