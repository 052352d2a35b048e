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
#: Shipped in core's distribution, but an app over the hook API like results and schedules.
APPS_IN_CORE = {"django_qstash.outbox"}


def core_modules() -> set[str]:
    core_dir = Path(django_qstash.__file__).parent
    found = {f"django_qstash.{info.name}" for info in pkgutil.iter_modules([str(core_dir)])}
    return found - APPS_IN_CORE


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {contract["name"]: contract for contract in config["tool"]["importlinter"]["contracts"]}


def test_core_contract_covers_every_core_module():
    contract = contracts()["Core never imports results, schedules or the outbox"]
    assert set(contract["source_modules"]) == core_modules()


def test_sub_apps_may_import_only_the_public_api():
    contract = contracts()["results, schedules and the outbox use only core's public hook API"]
    assert set(contract["forbidden_modules"]) == core_modules() - PUBLIC


def test_the_outbox_is_an_app_core_never_imports():
    config = contracts()
    assert (
        "django_qstash.outbox"
        in config["Core never imports results, schedules or the outbox"]["forbidden_modules"]
    )
    assert (
        "django_qstash.outbox"
        in config["results, schedules and the outbox use only core's public hook API"][
            "source_modules"
        ]
    )
