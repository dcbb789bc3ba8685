"""Shared fixtures. Helpers live in tests/support/ and data in tests/data/; ROOT and run_cli are
re-exported here because most tests start with ``from conftest import ROOT, run_cli``."""

from __future__ import annotations

import json

import pytest

from support import ROOT
from support.browser import browser  # noqa: F401  (one chromium for the whole session, for every browser test)
from support.cli import Run, run_cli

__all__ = ["ROOT", "Run", "run_cli"]


@pytest.fixture(autouse=True)
def no_kept_decisions():
    """Every test starts with no engine decision kept for reuse (triage.decisions), so what a test
    sees never depends on which tests ran before it, and a test that breaks the engine reaches it."""
    from triage import decisions

    decisions.forget()


@pytest.fixture
def answers_file(tmp_path):
    """Write an answers object to a JSON file and return its path as a string."""
    def write(answers: dict, name: str = "answers.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(answers), encoding="utf-8")
        return str(path)

    return write
