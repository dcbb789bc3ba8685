"""What the tests of the store's commands share (tests/records/test_records.py,
test_record_receive_files.py, test_store_cli.py): the store their commands use, named by TRIAGE_DB
as a clinic's shell names it, and an example intake saved and shown through the CLI. A test module
imports the fixtures by name:

    from support.cli_store import db, sqlite_db  # noqa: F401 (fixtures)"""

from __future__ import annotations

import re

import pytest

from support import ROOT
from support.cli import run_cli

EXAMPLES = ROOT / "examples"


@pytest.fixture
def db(store_location, monkeypatch) -> str:
    """The store on each backend (an SQLite file, a PostgreSQL URL), named by TRIAGE_DB."""
    monkeypatch.setenv("TRIAGE_DB", str(store_location))  # also proves TRIAGE_DB is honoured
    return str(store_location)


@pytest.fixture
def sqlite_db(tmp_path, monkeypatch) -> str:
    """An SQLite store file (for what only a file has), named by TRIAGE_DB."""
    path = tmp_path / "triage.db"
    monkeypatch.setenv("TRIAGE_DB", str(path))
    return str(path)


def save(name: str = "records-missing") -> int:
    """Save the shipped example ``name`` (by default the one whose operative report, fused levels and
    current MRI are missing) with `triage assess --save`; returns its intake id."""
    run = run_cli("assess", str(EXAMPLES / f"{name}.json"), "--save", "--user", "alice", "-f", "json")
    assert run.code == 0, run.err
    return int(re.search(r"saved: intake (\d+)", run.err).group(1))


def show(intake: int) -> dict:
    """`triage show ID -f json`, read."""
    run = run_cli("show", str(intake), "-f", "json")
    assert run.code == 0, run.err
    return run.json
