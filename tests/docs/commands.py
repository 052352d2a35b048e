"""The shell commands the READMEs print (their ``bash`` blocks), one per line, comments removed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READMES = [
    ROOT / "README.md",
    ROOT / "django-qstash-core" / "README.md",
    ROOT / "django-qstash-results" / "README.md",
    ROOT / "django-qstash-schedules" / "README.md",
]


def printed_commands(readme: Path) -> list[str]:
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", readme.read_text(), re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def all_printed_commands() -> dict[str, Path]:
    return {command: readme for readme in READMES for command in printed_commands(readme)}
