"""sample_project/.env.sample lists every variable the sample settings read, each with a comment,
and its values are the defaults (copying it to .env changes nothing)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_project"
READ = re.compile(r"env(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"")


def sample_lines() -> list[str]:
    return (SAMPLE / ".env.sample").read_text().splitlines()


def listed() -> dict[str, str]:
    """NAME -> value, for lines NAME=value and commented-out # NAME=value alike."""
    found: dict[str, str] = {}
    for line in sample_lines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def test_every_variable_the_settings_read_is_listed() -> None:
    read = set(READ.findall((SAMPLE / "cfehome" / "settings.py").read_text()))
    assert read, "the settings read no variables?"
    assert sorted(read - set(listed())) == []


def test_every_variable_has_a_comment() -> None:
    lines = sample_lines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            above = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            assert above.startswith("#"), f"{line.split('=')[0]} has no comment"


def settings_values(extra_env: dict[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in set(listed()) and not k.startswith(("DJANGO_", "PYTEST_"))
    }
    env.update(extra_env, PYTHONPATH=str(SAMPLE))
    code = (
        "import json, cfehome.settings as s; "
        "print(json.dumps({k: repr(getattr(s, k)) for k in dir(s) if k.isupper()}))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=SAMPLE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(output))


def test_its_values_are_the_defaults() -> None:
    active = {}
    for line in sample_lines():
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            active[match.group(1)] = match.group(2)
    assert settings_values(active) == settings_values({})
