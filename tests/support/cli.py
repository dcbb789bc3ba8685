"""Run the CLI as a user would: in-process (``run_cli``) or as the installed command (``TRIAGE``).

The suite tests the installed package (the wheel in the test venv), never the checkout's ``triage/``:
``TRIAGE`` is the ``triage`` script installed beside this interpreter, and ``installed_env`` drops
PYTHONPATH. Start such processes in a scratch folder (``cwd=tmp_path``), never in the checkout.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from triage.channels.cli.main import main

# The console script pip installed with the package: starts like a clinic's `triage`, and (unlike
# `python -m triage` or `python cli.py`) never puts the current folder on sys.path.
TRIAGE = [str(Path(sys.executable).parent / "triage")]

# An empty folder to start processes in when a test has no tmp_path: never the checkout, whose
# triage/ `python -c` or `python -m` would put first on sys.path.
SCRATCH = Path(tempfile.mkdtemp(prefix="triage-test-cwd-"))


def installed_env(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH (so nothing of the checkout is importable)."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(extra)
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def json(self):
        return json.loads(self.out)


def run_cli(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue())
