"""The dev server's shape: self-contained, without import circles, in modules a reader can hold."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

import django_qstash.devserver

PACKAGE = "django_qstash.devserver"
MAX_MODULE_LINES = 450


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # Includes imports inside functions and under TYPE_CHECKING.
    return grimp.build_graph("django_qstash", cache_dir=None)


def _devserver_modules(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + "."))


def test_no_module_imports_a_module_that_imports_it_back(graph: grimp.ImportGraph):
    circles = [
        (importer, imported)
        for importer in _devserver_modules(graph)
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith(PACKAGE) and graph.chain_exists(imported, importer)
    ]
    assert circles == []


def test_it_imports_nothing_of_core(graph: grimp.ImportGraph):
    outside = {
        (importer, imported)
        for importer in _devserver_modules(graph)
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.startswith("django_qstash") and not imported.startswith(PACKAGE)
    }
    assert outside == set()


def test_no_module_is_over_the_size_limit():
    root = Path(django_qstash.devserver.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text().splitlines())
        for path in root.rglob("*.py")
    }
    assert len(sizes) > 20  # the walk found the package
    assert {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES} == {}
