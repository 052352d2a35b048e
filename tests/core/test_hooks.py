"""The hook API (``django_qstash.hooks``) loads each re-exported name from its module when the
name is first read, so the apps that import it when Django sets up pay only for what they use."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import textwrap
from importlib import import_module

import pytest

from django_qstash import hooks


def test_importing_the_hook_api_imports_only_the_lazy_name_helper():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys
                from django_qstash import hooks
                before = sorted(m for m in sys.modules if m.startswith("django_qstash."))
                from django_qstash.hooks import Delivery, register_result_store
                print(",".join(before), "django_qstash.store" in sys.modules,
                      Delivery.__module__, register_result_store.__module__)
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django_qstash.hooks,django_qstash.lazy_names",
        "True",
        "django_qstash.store",
        "django_qstash.store_registry",
    ]


def test_every_public_name_is_its_modules_own_object():
    defined_here = {
        name
        for name, value in vars(hooks).items()
        if inspect.isfunction(value) and value.__module__ == hooks.__name__
    }
    re_exported = set(hooks._HOMES)
    assert re_exported.isdisjoint(defined_here)
    assert set(hooks.__all__) == (re_exported | defined_here) - {"__getattr__", "__dir__"}
    for name in hooks.__all__:
        assert name in dir(hooks)
        if name in re_exported:
            assert getattr(hooks, name) is getattr(import_module(hooks._HOMES[name]), name)


def test_type_checkers_see_the_names_the_module_loads():
    """The imports under ``if TYPE_CHECKING:`` (what mypy and IDEs read) are the same names,
    from the same modules, as the table the module loads them with."""
    tree = ast.parse(inspect.getsource(hooks))
    (block,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    ]
    seen: dict[str, str] = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "qstash"
        for alias in node.names
    }
    # Imported for annotations only, not re-exported.
    seen = {name: module for name, module in seen.items() if name in hooks.__all__}
    assert seen == hooks._HOMES


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_hook"):
        hooks.no_such_hook  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from django_qstash.hooks import no_such_hook  # type: ignore[attr-defined]  # noqa: F401
