"""The layering the design fixes, checked on the source by package:

- triage/ holds one folder per layer, lowest first: core, decision, records, interop, channels; a
  module imports nothing from a layer above its own (imports inside functions count), and the core,
  decision, records and interop layers never import rich;
- inside the store, the backends never import each other: only the opener imports the PostgreSQL
  backend (so psycopg is loaded for a postgresql:// store alone, and neither backend needs the other);
- inside triage/interop/cds_hooks/, each concern imports only those below it (protocol, config, then trust,
  prefetch and cards, then the service) and none imports the package's face;
- no import circle anywhere in triage/ (imports inside functions count: they only postpone one);
- only the adapter (triage/decision/engine.py) imports durable;
- triage.channels.render (renderings shared by the terminal and the web) imports only the core;
- the terminal layer (triage.channels.cli) and the web layer (triage.channels.web) never import each other;
- inside triage.channels.cli, a command module imports only triage.channels.cli.common (and the core, render): never
  another command module, so adding a command is one module plus one line in triage/channels/cli/main.py.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from support.cli import SCRATCH

PACKAGE = ROOT / "triage"
# The layers, lowest first: a module may import its own layer and those below it, never one above.
LAYERS = ("core", "decision", "records", "interop", "channels")


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
# triage/__main__.py is the entry point (`python -m triage`), triage/__init__.py the package: every
# other module sits in a layer.
GROUND = ("triage", "triage.__main__")


def layer(name: str) -> int | None:
    """The rank of a triage module's layer (0 = the core), None for a name outside triage's layers."""
    parts = name.split(".")
    if parts[0] != "triage" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


STORE = sorted(name for name in MODULES if in_package(name, "triage.records.store"))


def imported(module: str) -> set[str]:
    """Every module name ``module`` imports; ``from triage.channels.cli import common`` gives both
    triage.channels.cli and triage.channels.cli.common."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in MODULES}
    return names




def test_the_packages_exist():
    assert {"triage.channels.cli.main", "triage.channels.cli.common", "triage.channels.render.result",
            "triage.channels.render.html"} <= set(MODULES)
    assert {"triage.decision.engine", "triage.decision.assess", "triage.decision.result_builder"} <= set(MODULES)
    assert {"triage.records.store", "triage.records.store.core", "triage.records.store.sqlite",
            "triage.records.store.postgresql"} <= set(MODULES)
    assert {"triage.interop.cds_hooks.trust", "triage.interop.cds_hooks.service"} <= set(MODULES)


def test_every_module_sits_in_a_layer():
    """The folder listing shows the architecture: no module is left on triage/'s ground floor."""
    assert sorted(name for name in MODULES if name not in GROUND and layer(name) is None) == []
    assert {p.name for p in PACKAGE.iterdir() if p.suffix == ".py"} == {"__init__.py", "__main__.py"}


def test_the_layer_rule_is_checked():
    assert layer("triage.core.answers") == 0 and layer("triage.channels.web.app") == 4
    assert layer("triage") is None and layer("rich") is None


@pytest.mark.parametrize("module", sorted(name for name in MODULES if name not in GROUND))
def test_no_import_from_a_lower_layer_to_a_higher_one(module):
    own = layer(module)
    above = sorted(n for n in imported(module) if (layer(n) or 0) > own)
    assert above == [], f"{module} (layer {LAYERS[own]}) imports a higher layer: {above}"


@pytest.mark.parametrize("module", sorted(name for name in MODULES if layer(name) is not None
                                          and layer(name) < LAYERS.index("channels")))
def test_only_the_channels_import_rich(module):
    assert not {n for n in imported(module) if n.split(".")[0] == "rich"}


# Each CDS Hooks concern and the concerns it may import (triage/interop/cds_hooks/__init__.py only re-exports).
CDS_HOOKS_LAYERS = {
    "protocol": set(),
    "config": {"protocol"},
    "trust": {"protocol", "config"},
    "prefetch": {"protocol", "config"},
    "cards": {"protocol", "config"},
    "service": {"protocol", "config", "trust", "prefetch", "cards"},
}


def test_the_cds_hooks_package_has_one_module_per_concern():
    assert {name for name in MODULES if in_package(name, "triage.interop.cds_hooks")} == \
        {"triage.interop.cds_hooks", *(f"triage.interop.cds_hooks.{concern}" for concern in CDS_HOOKS_LAYERS)}


@pytest.mark.parametrize("concern", CDS_HOOKS_LAYERS)
def test_a_cds_hooks_concern_imports_only_those_below_it(concern):
    inside = {n for n in imported(f"triage.interop.cds_hooks.{concern}") if in_package(n, "triage.interop.cds_hooks")}
    assert inside <= {f"triage.interop.cds_hooks.{below}" for below in CDS_HOOKS_LAYERS[concern]}


def test_only_the_adapter_imports_durable():
    importers = {name for name in MODULES if any(n.split(".")[0] == "durable" for n in imported(name))}
    assert importers == {"triage.decision.engine"}


BACKENDS = {"triage.records.store.sqlite", "triage.records.store.postgresql"}


@pytest.mark.parametrize("module", STORE)
def test_the_backends_never_import_each_other_and_only_the_opener_picks_one(module):
    """The backends import the shared modules (model, audit, schema, migrations, verify, core), never
    each other; triage.records.store.opener picks one (the package's face re-exports the SQLite file helpers:
    open_copy)."""
    allowed = {"triage.records.store.opener": BACKENDS, "triage.records.store": {"triage.records.store.sqlite"}}.get(module, set())
    assert (imported(module) & BACKENDS) - {module} <= allowed


def test_a_store_module_never_imports_the_package_face():
    """triage/records/store/__init__.py imports every store module: one of them importing it back is a circle."""
    assert not {name for name in STORE if name != "triage.records.store" and "triage.records.store" in imported(name)}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_import_circles_are_found():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_triage():
    graph = {name: {other for other in imported(name) if other in MODULES and other != name} for name in MODULES}
    assert import_circles(graph) == []


@pytest.mark.parametrize("module", [name for name in MODULES if in_package(name, "triage.channels.render")])
def test_render_imports_only_the_core(module):
    assert not {n for n in imported(module) if in_package(n, "triage.channels.cli") or in_package(n, "triage.channels.web")}


@pytest.mark.parametrize("module", [name for name in MODULES if in_package(name, "triage.channels.cli")
                                    or in_package(name, "triage.channels.web")])
def test_terminal_and_web_layers_never_import_each_other(module):
    other = "triage.channels.web" if in_package(module, "triage.channels.cli") else "triage.channels.cli"
    assert not {n for n in imported(module) if in_package(n, other)}


COMMAND_MODULES = sorted(name for name in MODULES if in_package(name, "triage.channels.cli")
                         and name not in ("triage.channels.cli", "triage.channels.cli.main", "triage.channels.cli.common"))


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_a_command_module_imports_only_the_common_module_of_the_cli(module):
    cli_imports = {n for n in imported(module) if in_package(n, "triage.channels.cli")} - {"triage.channels.cli"}
    assert cli_imports <= {"triage.channels.cli.common"}
    assert "def register(" in MODULES[module].read_text(encoding="utf-8")


def test_the_common_module_imports_no_command():
    assert not {n for n in imported("triage.channels.cli.common") if in_package(n, "triage.channels.cli")}


def test_main_registers_every_command_module_and_knows_which_commands_each_has():
    """`triage COMMAND` imports only the module main.COMMANDS names for it: the table must be true."""
    import argparse
    import importlib

    from triage.channels.cli import main

    assert sorted(f"triage.channels.cli.{name}" for name in main.COMMANDS) == COMMAND_MODULES
    for name, commands in main.COMMANDS.items():
        parser = argparse.ArgumentParser()
        subcommands = parser.add_subparsers()
        importlib.import_module(f"triage.channels.cli.{name}").register(subcommands)
        assert tuple(subcommands.choices) == commands, name


def test_python_dash_m_triage_is_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "triage", "rules", "--format", "json"], cwd=SCRATCH,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"rules"' in done.stdout


def test_the_repository_names_no_file_outside_it():
    """A path outside the checkout means nothing to a reader of the project."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    outside = "../" + "shared/"  # spelled in two parts so that this file does not match itself
    hits = [name for name in tracked if (ROOT / name).is_file() and (ROOT / name).suffix in {".py", ".md", ".toml", ".txt"}
            and outside in (ROOT / name).read_text(encoding="utf-8", errors="replace")]
    assert not hits
