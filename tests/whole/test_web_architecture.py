"""The web layer's place in the design: it sits beside the terminal layer and never imports it (nor
the other way round); the core never imports the web stack; commands that do not serve pages never
load flask."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from support.cli import SCRATCH

PACKAGE = ROOT / "triage"
WEB = sorted((PACKAGE / "channels" / "web").glob("*.py"))
WEB_STACK = {"flask", "werkzeug", "jinja2", "waitress"}
# argon2 (staff passwords) is used by triage.records.accounts, lazily: `triage assess` must not load it either.
NOT_FOR_ASSESS = WEB_STACK | {"argon2"}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _terminal(name: str) -> bool:
    """The terminal layer: rich, triage.channels.cli, and the rich console of triage.channels.render (the rest of
    triage.channels.render is shared by both layers)."""
    return name == "rich" or name.startswith("rich.") or name == "triage.channels.cli" or name.startswith("triage.channels.cli.") \
        or name == "triage.channels.render.terminal"


@pytest.mark.parametrize("path", WEB, ids=lambda p: p.name)
def test_the_web_layer_never_imports_the_terminal_layer(path):
    assert not {name for name in imported(path) if _terminal(name)}


def _outside_web() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "web" not in p.relative_to(PACKAGE).parts]


@pytest.mark.parametrize("path", _outside_web(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_outside_the_web_layer_imports_the_web_stack(path):
    """`triage serve` hands over to `python -m triage.channels.web` by exec: it imports neither."""
    names = imported(path)
    assert not {n for n in names if n.split(".")[0] in WEB_STACK}
    assert not {n for n in names if n == "triage.channels.web" or n.startswith("triage.channels.web.")}


def test_triage_assess_does_not_load_the_web_stack(tmp_path):
    answers = tmp_path / "a.json"
    answers.write_text("{}", encoding="utf-8")
    probe = ("import sys, io; from triage.channels.cli.main import main; "
             "code = main(['assess', %r, '--format', 'json'], out=io.StringIO(), err=io.StringIO()); "
             "print(code, sorted(m for m in sys.modules if m.split('.')[0] in %r))" % (str(answers), NOT_FOR_ASSESS))
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=SCRATCH, check=True).stdout
    assert loaded.strip() == "0 []"


BLUEPRINTS = sorted(path for path in WEB if "Blueprint(" in path.read_text(encoding="utf-8"))


def test_the_blueprints_are_found():
    assert {path.name for path in BLUEPRINTS} >= {"patient.py", "staff.py", "cds_hooks.py"}


@pytest.mark.parametrize("path", BLUEPRINTS, ids=lambda p: p.name)
def test_a_blueprint_never_imports_the_app(path):
    """The app registers its blueprints; a blueprint takes what it needs from triage.channels.web.services
    (the per-app services), never from the app that imports it (an import circle)."""
    assert "triage.channels.web.app" not in imported(path)


def test_only_the_entry_point_builds_the_app():
    importers = {path.name for path in WEB if path.name != "app.py" and "triage.channels.web.app" in imported(path)}
    assert importers == {"__main__.py"}
