"""The layer rule (docs/architecture.md, "Layers"): the import-linter contracts in
pyproject.toml hold. A broken contract shows the import chain that breaks it.

`lint-imports` runs in its own process: in this one it would reconfigure logging (disabling
the loggers other tests capture)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def test_the_layer_contracts_are_declared() -> None:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    assert {"no-workers", "shopify-client", "base", "domain-below-http"} <= {
        c["id"] for c in contracts
    }


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run(
        [Path(sys.executable).with_name("lint-imports"), "--config", PYPROJECT, "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
