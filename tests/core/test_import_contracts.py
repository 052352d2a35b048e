"""The import-linter contracts name every module of core, so a new module cannot slip past them."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path

import django_qstash

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"django_qstash.hooks", "django_qstash.exceptions", "django_qstash.states"}


def core_modules() -> set[str]:
    core_dir = Path(django_qstash.__file__).parent
    return {f"django_qstash.{info.name}" for info in pkgutil.iter_modules([str(core_dir)])}


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {contract["name"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def test_core_contract_covers_every_core_module():
    contract = contracts()["Core never imports results or schedules"]
    assert set(contract["source_modules"]) == core_modules()


def test_sub_apps_may_import_only_the_public_api():
    contract = contracts()["results and schedules use only core's public hook API"]
    assert set(contract["forbidden_modules"]) == core_modules() - PUBLIC
