"""The layer rule (docs/architecture.md, "Layers"): the import-linter contracts in
pyproject.toml hold. A broken contract prints the import chain that breaks it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
CONTRACTS = [
    c["id"] for c in tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
]


def test_there_are_contracts_to_check() -> None:
    assert {"no-workers", "shopify-client", "base", "domain-below-http"} <= set(CONTRACTS)


def test_every_import_contract_is_kept() -> None:
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    assert status == 0, "an import contract is broken: see the chains printed above"
