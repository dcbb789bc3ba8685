"""Shared test helpers: run the CLI in-process exactly as a user would call it."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from triage.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture
def answers_file(tmp_path):
    """Write an answers object to a JSON file and return its path as a string."""
    def write(answers: dict, name: str = "answers.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(answers), encoding="utf-8")
        return str(path)

    return write
