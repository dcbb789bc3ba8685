"""Building the wheel as a clinic's `pip install .` does, from a clean copy of what the build reads (a
stale build/ folder in the checkout could add files the sources no longer have)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support import ROOT
from support.cli import installed_env

# Where each top-level folder of the checkout lands in the package (pyproject.toml's package-dir).
PLACES = {"triage": "triage", "rules": "triage/rules", "questionnaires": "triage/questionnaires",
          "settings": "triage/settings"}


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built in ``folder`` from a clean copy of the sources."""
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for top in PLACES:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = folder / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300,
                           cwd=folder, env=installed_env())
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("fbss_triage-*.whl")
    return wheel
