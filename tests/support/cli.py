"""Run the CLI in-process exactly as a user would call it."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from triage.cli.main import main


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
