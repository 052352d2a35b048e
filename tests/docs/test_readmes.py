"""Every ```python block of README.md and the three distribution READMEs runs here.

A block's kind is set by an HTML comment on the line just before its fence:

* no marker: an **example**. The examples of one README run in order, in one module namespace,
  as one test. They run in this process with the loop fully live: settings point ``.delay()`` at a
  real QStash dev server (a subprocess), which delivers to this process's webhook
  (pytest-django's ``live_server``, sharing the test database). A task defined in a block is
  published, delivered, run and stored for real, and ``.get()`` reads the stored result. A line
  ``print(...)  # -> text`` must print ``text``.
* ``<!-- docs-test: settings -->``: a **settings fragment**. Every name it sets must be a setting
  that Django or django-qstash reads; every ``INSTALLED_APPS`` entry must be an installable app;
  with the other names applied (``override_settings``) django-qstash's system checks pass.
* ``<!-- docs-test: urls -->``: a **URLconf fragment**. Used as ``ROOT_URLCONF``, the webhook
  route check passes.
* ``<!-- docs-test: file PATH -->`` / ``<!-- docs-test: append PATH -->``: a file of the core
  README's quick start, written (or appended to) by ``tests/docs/test_quick_start.py``, which runs
  that section's shell blocks too.

Fenced blocks in other languages (``bash``, plain) are not run.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]
READMES = [
    ROOT / "README.md",
    ROOT / "django-qstash-core" / "README.md",
    ROOT / "django-qstash-results" / "README.md",
    ROOT / "django-qstash-schedules" / "README.md",
]
SOURCES = [
    ROOT / name / "src"
    for name in ("django-qstash-core", "django-qstash-results", "django-qstash-schedules")
]
KINDS = ("example", "settings", "urls", "file", "append")
MARKER = re.compile(r"^<!--\s*docs-test:\s*(\w+)[^>]*-->\s*$")
EXPECTED = re.compile(r"^\s*print\(.*\)\s*#\s*->\s?(.*)$")


@dataclass
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    kind: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def compiled(self) -> types.CodeType:
        # Pad with newlines so a traceback's line numbers are the README's.
        return compile("\n" * self.line + self.code, str(self.path), "exec")


def python_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = lines[index].strip()
        if fence.startswith("```") and fence[3:].strip() in ("python", "py"):
            kind = "example"
            previous = next((lines[i] for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = MARKER.match(previous.strip())
            if marker:
                kind = marker.group(1)
                assert kind in KINDS, f"{path}:{index + 1}: unknown docs-test kind {kind!r}"
            end = index + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            blocks.append(Block(path, index + 1, kind, "\n".join(lines[index + 1 : end])))
            index = end
        index += 1
    return blocks


ALL_BLOCKS = [block for path in READMES if path.exists() for block in python_blocks(path)]


def known_settings() -> set[str]:
    """Django's settings, and every setting name the three distributions read."""
    names = {name for name in dir(global_settings) if name.isupper()} | {"TASKS"}
    pattern = re.compile(r"[\"']((?:DJANGO_)?QSTASH_[A-Z0-9_]+)[\"']")
    for source in SOURCES:
        for module in source.rglob("*.py"):
            names.update(pattern.findall(module.read_text()))
    return names


# ============================================================== settings and URLconf fragments


def fragment_namespace(block: Block, name: str) -> dict[str, Any]:
    module = types.ModuleType(name)
    exec(block.compiled(), module.__dict__)
    return module.__dict__


@pytest.mark.parametrize(
    "block", [b for b in ALL_BLOCKS if b.kind == "settings"], ids=lambda b: b.where
)
def test_settings_fragment(block: Block) -> None:
    from django.apps import AppConfig

    from django_qstash.checks import check_settings

    values = {
        name: value
        for name, value in fragment_namespace(block, "readme_settings").items()
        if name.isupper()
    }
    assert values, f"{block.where}: a settings fragment that sets nothing"
    unknown = sorted(set(values) - known_settings())
    assert not unknown, f"{block.where}: not settings anyone reads: {unknown}"
    for app in values.pop("INSTALLED_APPS", []):
        AppConfig.create(app)  # raises ImportError / ImproperlyConfigured for a wrong entry
    with override_settings(**values):
        problems = [f"{e.id}: {e.msg}" for e in check_settings()]
    assert not problems, f"{block.where}: {problems}"


@pytest.mark.parametrize(
    "block", [b for b in ALL_BLOCKS if b.kind == "urls"], ids=lambda b: b.where
)
def test_urls_fragment(block: Block) -> None:
    from django_qstash.checks import check_webhook_route

    name = f"readme_urls_{block.line}"
    module = types.ModuleType(name)
    exec(block.compiled(), module.__dict__)
    sys.modules[name] = module
    try:
        with override_settings(ROOT_URLCONF=name):
            assert check_webhook_route() == [], block.where
    finally:
        del sys.modules[name]


# ============================================================== examples, on a live loop


@pytest.fixture(scope="module")
def qstash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A QStash dev server subprocess (fast retries), started with the demo's own helper."""
    from tour.servers import Stack, reserved_port  # sample_project/tour/

    workdir = tmp_path_factory.mktemp("readme-devserver")
    stack = Stack(
        workdir=workdir,
        database_url="",
        qstash_port=reserved_port(),
        django_port=0,
        devserver_flags=["--fast-retries", "--cron-tick", "1", "--quiet"],
        qstash_db=workdir / "qstash-dev.db",
    )
    try:
        stack.start_devserver()
        yield stack
    finally:
        stack.stop()


def wait_until_quiet(stack: Any, timeout: float = 20.0) -> None:
    """Wait until the dev server has no delivery due or running (delayed messages aside).

    The live server shares this process's in-memory SQLite connection, so the next block must
    not start while a delivery of the last one is still being handled.
    """
    import httpx

    final = {"DELIVERED", "FAILED", "CANCELED"}
    deadline = time.monotonic() + timeout
    quiet_polls = 0
    with httpx.Client(
        base_url=stack.qstash_url,
        headers={"Authorization": f"Bearer {stack.token}"},
        trust_env=False,
        timeout=10,
    ) as client:
        while quiet_polls < 3:
            events = client.get("/v2/events", params={"count": 10000}).json()["events"]
            latest: dict[str, dict[str, Any]] = {}
            for event in reversed(events):  # oldest first
                latest[event["messageId"]] = event
            now_ms = time.time() * 1000
            busy = [
                message_id
                for message_id, event in latest.items()
                if event["state"] not in final and event.get("notBefore", 0) <= now_ms + 1000
            ]
            quiet_polls = 0 if busy else quiet_polls + 1
            assert time.monotonic() < deadline, f"deliveries still running: {busy}"
            time.sleep(0.1)


def expected_output(code: str) -> list[str]:
    return [m.group(1).rstrip() for line in code.splitlines() if (m := EXPECTED.match(line))]


def is_subsequence(wanted: list[str], lines: list[str]) -> bool:
    remaining = iter(lines)
    return all(any(line.rstrip() == item for line in remaining) for item in wanted)


README_EXAMPLES = [
    path for path in READMES if any(b.kind == "example" for b in ALL_BLOCKS if b.path == path)
]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("readme", README_EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_readme_examples(readme: Path, qstash: Any, live_server: Any) -> None:
    from django_qstash.registry import registry

    slug = re.sub(r"\W", "_", str(readme.parent.relative_to(ROOT)).strip(".")) or "root"
    module_name = f"readme_{slug}"
    module = types.ModuleType(module_name)
    module.__dict__["__file__"] = str(readme)
    sys.modules[module_name] = module
    live = override_settings(
        QSTASH_URL=qstash.qstash_url,
        QSTASH_TOKEN=qstash.token,
        QSTASH_CURRENT_SIGNING_KEY=qstash.current_key,
        QSTASH_NEXT_SIGNING_KEY=qstash.next_key,
        DJANGO_QSTASH_DOMAIN=live_server.url,
        DJANGO_QSTASH_FORCE_HTTPS=False,
        DJANGO_QSTASH_ALWAYS_EAGER=False,
    )
    try:
        with live:
            for block in [b for b in ALL_BLOCKS if b.path == readme and b.kind == "example"]:
                output = io.StringIO()
                with contextlib.redirect_stdout(output):
                    try:
                        exec(block.compiled(), module.__dict__)
                    except Exception as exc:
                        raise AssertionError(
                            f"the example at {block.where} raised {exc!r}; it printed:\n"
                            f"{output.getvalue()}\n--- dev server log ---\n{qstash.logs()}"
                        ) from exc
                wait_until_quiet(qstash)
                wanted = expected_output(block.code)
                printed = output.getvalue().splitlines()
                assert is_subsequence(wanted, printed), (
                    f"the example at {block.where} should print {wanted}, printed {printed}"
                )
    finally:
        del sys.modules[module_name]
        for name in [n for n in registry if n.startswith(module_name + ".")]:
            registry.unregister(name)


# ============================================================== the README covers everything


def test_the_readme_opens_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```\w*\n(.*?)```", text, re.DOTALL)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]
    assert text.index("make demo") < 1200, "the two commands must be on the first screen"


def test_every_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    read_by_us = {
        name for name in known_settings() if name.startswith(("QSTASH_", "DJANGO_QSTASH_"))
    }
    missing = sorted(name for name in read_by_us if f"`{name}`" not in readme)
    assert not missing, f"settings missing from README.md's Settings section: {missing}"


def test_every_management_command_is_documented() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = {
        module.stem
        for source in SOURCES
        for module in source.rglob("management/commands/*.py")
        if not module.stem.startswith("_")
    }
    assert commands, "no management commands found"
    missing = sorted(name for name in commands if f"manage.py {name}" not in readme)
    assert not missing, f"management commands missing from README.md: {missing}"


def test_every_readme_block_has_a_known_kind() -> None:
    assert ALL_BLOCKS, "no python blocks found in the READMEs"
    assert {block.kind for block in ALL_BLOCKS} <= set(KINDS)


#: Where the READMEs link into this repository: absolute, so that the links work on PyPI too,
#: where each README is a distribution's long description.
REPOSITORY = "https://github.com/jmitchel3/django-qstash"
LINK = re.compile(
    r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE
)
HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def links(text: str) -> list[str]:
    found = [a or b for a, b in LINK.findall(text)]
    return found + HTML_LINK.findall(text)


def long_descriptions() -> list[Path]:
    """The README each distribution's pyproject.toml names as its long description."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    found = []
    for pyproject in [ROOT / "pyproject.toml", *ROOT.glob("django-qstash-*/pyproject.toml")]:
        readme = tomllib.loads(pyproject.read_text())["project"]["readme"]
        found.append(pyproject.parent / (readme if isinstance(readme, str) else readme["file"]))
    return found


def test_every_readme_is_a_long_description() -> None:
    assert sorted(long_descriptions()) == sorted(READMES)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_long_description_has_a_relative_link(readme: Path) -> None:
    relative = [
        target for target in links(readme.read_text()) if not re.match(r"^(https?|mailto):", target)
    ]
    assert relative == [], f"{readme.relative_to(ROOT)}: relative links 404 on PyPI: {relative}"


def github_anchors(markdown: str) -> set[str]:
    """The ids GitHub gives a document's headings."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*)$", markdown, re.MULTILINE):
        text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
        anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def test_links_into_the_repository_resolve() -> None:
    checked = 0
    for readme in READMES:
        for target in links(readme.read_text()):
            if not target.startswith(REPOSITORY):
                continue
            rest, _, anchor = target.removeprefix(REPOSITORY).partition("#")
            match = re.match(r"^/(?:blob|tree)/main/(.*)$", rest)
            assert rest == "" or match, f"{readme.relative_to(ROOT)}: {target}"
            path = ROOT / (match.group(1) if match else "")
            assert path.exists(), f"{readme.relative_to(ROOT)}: {target}"
            if anchor:
                page = path / "README.md" if path.is_dir() else path
                assert anchor in github_anchors(page.read_text()), (
                    f"{readme.relative_to(ROOT)}: no heading #{anchor} in {target}"
                )
            checked += 1
    assert checked > 20
