"""Every difference docs/django-tasks.md lists is pinned by a test that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "django-qstash-core" / "docs" / "django-tasks.md"


def differences_table() -> list[str]:
    text = DOC.read_text()
    section = text.split("## Where it differs from Django's own backends", 1)[1].split("\n## ", 1)[
        0
    ]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]


def test_each_documented_difference_names_a_test_that_exists():
    rows = differences_table()[1:]  # the header row names the columns
    assert len(rows) >= 8
    sources = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    for row in rows:
        (name,) = re.findall(r"`(test_\w+)`", row.rsplit("|", 2)[1])
        assert re.search(rf"^def {name}\(", sources, re.MULTILINE), f"{name} ({row})"
