"""The layering the design fixes: only the adapter imports durable; the core never imports the
terminal layer (rich, render, cli)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "triage"
OUTER = {"cli", "render"}
CORE = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in OUTER | {"__init__"} and not p.stem.endswith("_cli"))


def imported(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_only_the_adapter_imports_durable():
    importers = {p.stem for p in PACKAGE.glob("*.py") if any(n.split(".")[0] == "durable" for n in imported(p.stem))}
    assert importers == {"engine"}


@pytest.mark.parametrize("module", CORE)
def test_core_never_imports_the_terminal_layer(module):
    forbidden = {"rich", "triage.cli", "triage.render"} | {f"triage.{p.stem}" for p in PACKAGE.glob("*_cli.py")}
    assert not {n for n in imported(module) if n in forbidden or n.split(".")[0] == "rich"}
