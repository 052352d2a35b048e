"""``make demo``, run as CI runs it (plain output), checked against the database it used.

The demo is started the way ``make demo`` starts it (``python sample_project/demo.py``, see the
Makefile), with ``--plain`` and a ``--workdir`` of its own so that its SQLite database outlives it.
Every row of the summary it prints must be what the results app stored for that message, every
side effect the tasks wrote must agree, and both servers it started must be gone when it exits.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "sample_project" / "demo.py"

HELLO = "Hello Tony Stark! I see you're building in a cave."

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def run_demo(workdir: Path) -> str:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "QSTASH_", "PYTEST_")) and key != "DATABASE_URL"
    }
    env["NO_COLOR"] = "1"
    process = subprocess.Popen(
        [sys.executable, str(DEMO), "--plain", "--workdir", str(workdir)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=115)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"make demo did not finish within 2 minutes:\n{output}")
    assert process.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("demo")
    output = run_demo(workdir)
    return {"output": output, "workdir": workdir, **parse(output)}


def parse(output: str) -> dict[str, Any]:
    lines = output.splitlines()
    start = lines.index("== summary ==")
    dlq_start = lines.index("== dead-letter queue ==")
    header = [cell.strip() for cell in lines[start + 1].split(" | ")]
    rows = {}
    for line in lines[start + 2 : dlq_start]:
        cells = line.split(" | ", len(header) - 1)
        row = dict(zip(header, cells))
        rows[row["step"]] = row
    dead = []
    for line in lines[dlq_start + 1 :]:
        if " | " not in line:
            break
        dead.append(line.split(" | ")[0])
    events: dict[str, list[tuple[str, str, str]]] = {}
    for line in lines[:start]:
        match = re.match(r"^\s*\d+\.\d+s  (\S+)\s+(qstash|django)\s+(\S+)\s*(.*)$", line)
        if match:
            step, source, state, detail = match.groups()
            events.setdefault(step, []).append((source, state, detail))
    urls = re.findall(r"at (http://127\.0\.0\.1:\d+)", output)
    schedules = []
    if "== schedules ==" in lines:
        for line in lines[lines.index("== schedules ==") + 1 :]:
            if " | " not in line:
                break
            schedules.append(dict(zip(["id", "cron", "task", "state"], line.split(" | "))))
    return {"rows": rows, "dead": dead, "events": events, "urls": urls, "schedules": schedules}


def query(workdir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(workdir / "db.sqlite3")
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def stored(workdir: Path) -> dict[str, dict[str, Any]]:
    rows = query(
        workdir,
        "SELECT task_id, task_name, status, attempts, result, exception_type, exception_message "
        "FROM django_qstash_results_taskresult",
    )
    return {
        row[0]: {
            "task_name": row[1],
            "status": row[2],
            "attempts": row[3],
            "result": json.loads(row[4]) if row[4] is not None else None,
            "exception_type": row[5],
            "exception_message": row[6],
        }
        for row in rows
    }


def test_the_output_is_plain(demo: dict[str, Any]) -> None:
    assert "\x1b[" not in demo["output"]
    assert "\r" not in demo["output"]


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_every_example_task_ran(demo: dict[str, Any]) -> None:
    expected = {"plain", "countdown", "retry", "fails", "bound", "async"}
    if available("django_qstash.canvas"):
        expected |= {"chain.1", "chain.2", "chain.3"}
    if available("django_qstash.schedules.models"):
        expected |= {"cron.1", "cron.2"}
    if available("django.tasks") or available("django_tasks"):
        expected.add("djtask")
    assert expected <= set(demo["rows"]), demo["output"]
    assert {key.split(".")[0] for key in demo["rows"]} == {key.split(".")[0] for key in expected}


@pytest.mark.skipif(not available("django_qstash.canvas"), reason="no chains yet")
def test_the_chain_passed_each_result_on(demo: dict[str, Any]) -> None:
    steps = [demo["rows"][f"chain.{n}"] for n in (1, 2, 3)]
    assert [(s["qstash"], s["django"], s["result"]) for s in steps] == [
        ("DELIVERED", "SUCCESS", "4"),
        ("DELIVERED", "SUCCESS", "8"),
        ("DELIVERED", "SUCCESS", "16"),
    ]
    assert {s["task"] for s in steps} == {"example.tasks.math_add_task"}
    assert len({s["message id"] for s in steps}) == 3


@pytest.mark.skipif(not available("django_qstash.schedules.models"), reason="no schedules yet")
def test_the_schedule_fired_and_was_paused(demo: dict[str, Any]) -> None:
    (printed,) = demo["schedules"]
    rows = query(
        demo["workdir"],
        "SELECT schedule_id, cron, task_name, is_active, synced_active, sync_error "
        "FROM django_qstash_schedules_taskschedule",
    )
    assert rows == [(printed["id"], "* * * * *", "example.tasks.record", 0, 0, "")]
    assert printed["state"] == "paused"
    runs = {key: row for key, row in demo["rows"].items() if key.startswith("cron.")}
    assert len(runs) >= 2
    ids = tuple(row["message id"] for row in runs.values())
    marks = ",".join("?" * len(ids))
    stored_schedule_ids = query(
        demo["workdir"],
        "SELECT DISTINCT schedule_id FROM django_qstash_results_taskresult "
        f"WHERE task_id IN ({marks})",
        ids,
    )
    assert stored_schedule_ids == [(printed["id"],)]
    (count,) = query(demo["workdir"], "SELECT COUNT(*) FROM example_taskrun WHERE task = 'record'")[
        0
    ]
    assert count == len(runs)


def test_each_printed_row_is_what_the_database_holds(demo: dict[str, Any]) -> None:
    db = stored(demo["workdir"])
    for step, row in demo["rows"].items():
        record = db[row["message id"]]
        assert row["task"] == record["task_name"], step
        assert row["django"] == record["status"], step
        assert int(row["attempts"]) == record["attempts"], step
        if record["status"] == "SUCCESS":
            assert json.loads(row["result"]) == record["result"], step
        else:
            exception = record["exception_type"].rsplit(".", 1)[-1]
            assert row["result"] == f"{exception}: {record['exception_message']}", step
    # ... and the database holds nothing the demo did not print.
    assert set(db) == {row["message id"] for row in demo["rows"].values()}


def test_the_outcomes_are_the_ones_each_task_shows(demo: dict[str, Any]) -> None:
    rows = demo["rows"]
    expected = {
        "plain": ("DELIVERED", "SUCCESS", "1", "466"),
        "countdown": ("DELIVERED", "SUCCESS", "1", json.dumps(HELLO)),
        "retry": ("DELIVERED", "SUCCESS", "3", "3"),
        "async": ("DELIVERED", "SUCCESS", "1", "42"),
    }
    for step, (qstash, django, attempts, result) in expected.items():
        row = rows[step]
        assert (row["qstash"], row["django"], row["attempts"], row["result"]) == (
            qstash,
            django,
            attempts,
            result,
        ), step
    assert (rows["fails"]["qstash"], rows["fails"]["django"]) == ("FAILED", "FAILURE")
    assert rows["fails"]["result"].startswith("ValueError: ")
    bound = json.loads(rows["bound"]["result"])
    assert bound == {
        "id": rows["bound"]["message id"],
        "retries": 0,
        "task": "example.tasks.bound_info",
    }


def test_the_side_effects_agree(demo: dict[str, Any]) -> None:
    """The tasks' own rows (example.models.TaskRun) match the attempts the demo printed."""
    runs = dict(query(demo["workdir"], "SELECT task, COUNT(*) FROM example_taskrun GROUP BY task"))
    rows = demo["rows"]
    assert runs["fail_until"] == int(rows["retry"]["attempts"]) == 3
    assert runs["always_fails"] == int(rows["fails"]["attempts"]) == 1
    assert runs["bound_info"] == 1
    sql = "SELECT value FROM example_taskrun WHERE task = 'bound_info'"
    ((value,),) = query(demo["workdir"], sql)
    assert json.loads(value) == json.loads(rows["bound"]["result"])


def test_the_failed_task_is_in_the_dead_letter_queue(demo: dict[str, Any]) -> None:
    assert demo["dead"] == [demo["rows"]["fails"]["message id"]]


def test_the_state_changes_it_printed_end_in_the_stored_state(demo: dict[str, Any]) -> None:
    db = stored(demo["workdir"])
    for step, row in demo["rows"].items():
        events = demo["events"][step]
        django_states = [state for source, state, _ in events if source == "django"]
        qstash_states = [state for source, state, _ in events if source == "qstash"]
        assert django_states[-1] == db[row["message id"]]["status"], step
        assert qstash_states[0] == "CREATED", step
        assert qstash_states[-1] == row["qstash"], step
    # Each failed attempt of the retried task is a RETRY in QStash's log: two before the success.
    retry_states = [s for source, s, _ in demo["events"]["retry"] if source == "qstash"]
    assert retry_states.count("RETRY") == int(demo["rows"]["retry"]["attempts"]) - 1 == 2
    # The countdown was stored PENDING before QStash delivered it.
    countdown = [s for source, s, _ in demo["events"]["countdown"] if source == "django"]
    assert countdown[0] == "PENDING"


def test_both_servers_are_stopped(demo: dict[str, Any]) -> None:
    assert len(demo["urls"]) >= 2, demo["output"]
    for url in demo["urls"]:
        host, port = url.removeprefix("http://").split(":")
        with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=1):
            pass


def test_make_demo_and_make_run_run_this_script() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "demo", "run"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "python sample_project/demo.py" in dry_run
    assert "python sample_project/demo.py --serve" in dry_run


def webhook_answers(readme: Path) -> dict[str, str]:
    """The core README's table of webhook answers: status code -> the row's text."""
    rows = {}
    for line in readme.read_text().splitlines():
        match = re.match(r"^\|\s*(\d{3})((?:\s*/\s*\d{3})*)\b[^|]*\|(.*)$", line)
        if match:
            codes = [match.group(1), *re.findall(r"\d{3}", match.group(2))]
            for code in codes:
                rows[code] = line
    return rows


def test_the_docs_say_what_the_failed_tasks_were_answered(demo: dict[str, Any]) -> None:
    """The answers the webhook gave during the tour (to a task with retries left, and to one
    with max_retries=0) are the ones the core README and the root README document."""
    answers = webhook_answers(ROOT / "django-qstash-core" / "README.md")

    def statuses(step: str, state: str) -> set[str]:
        return {
            re.search(r"HTTP (\d+)", detail).group(1)
            for source, s, detail in demo["events"][step]
            if source == "qstash" and s == state
        }

    (retried,) = statuses("retry", "RETRY")
    (final,) = statuses("fails", "FAILED")
    assert (retried, final) == ("500", "489")
    assert "the task raised" in answers[retried]
    assert "the task raised" in answers[final]
    assert "max_retries=0" in answers[final]
    root = " ".join((ROOT / "README.md").read_text().split())
    assert "a `500` means the task itself raised" not in root
    assert "`489` on its last attempt" in root


@pytest.mark.skipif(not available("upstash_workflow"), reason="no workflow SDK")
def test_the_workflow_ran_each_step_once_with_its_sleep(demo: dict[str, Any]) -> None:
    lines = demo["output"].splitlines()
    start = lines.index("== workflow ==")
    assert lines[start + 1] == "run | state | steps"
    run_id, state, steps = lines[start + 2].split(" | ")
    assert run_id.startswith("wfr_")
    assert state == "RUN_SUCCESS"
    assert steps == "create-account, wait-before-welcome, send-welcome, finish"
    runs = query(
        demo["workdir"],
        "SELECT task, COUNT(*) FROM example_taskrun WHERE task LIKE 'onboarding:%' GROUP BY task",
    )
    assert dict(runs) == {"onboarding:account": 1, "onboarding:welcome": 1, "onboarding:done": 1}
    ((account, welcome),) = query(
        demo["workdir"],
        "SELECT (SELECT julianday(created) FROM example_taskrun WHERE task = 'onboarding:account'),"
        " (SELECT julianday(created) FROM example_taskrun WHERE task = 'onboarding:welcome')",
    )
    # Step 1 ran before the 2 s sleep began, step 2 once it was over.
    assert (welcome - account) * 86400 >= 2.0
