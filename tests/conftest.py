"""Shared fixtures. Helpers live in tests/support/ and data in tests/data/; ROOT and run_cli are
re-exported here because most tests start with ``from conftest import ROOT, run_cli``."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile

import pytest

from support import ROOT
from support.browser import browser  # noqa: F401  (one chromium for the whole session, for every browser test)
from support.cli import Run, run_cli
from support.postgres import start_cluster

__all__ = ["ROOT", "Run", "run_cli"]

# Definitions kept validated between runs (triage/definition_cache.py) go to a folder of this test
# session, never the developer's own cache; commands the tests start inherit it.
if "TRIAGE_CACHE_DIR" not in os.environ:
    os.environ["TRIAGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="triage-test-cache-")
    atexit.register(shutil.rmtree, os.environ["TRIAGE_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(autouse=True)
def no_kept_decisions():
    """Every test starts with no engine decision kept for reuse (triage.decisions) and no result JSON
    kept (triage.assess), so what a test sees never depends on which tests ran before it, and a test
    that breaks the engine reaches it."""
    from triage import assess, decisions

    decisions.forget()
    assess.forget()


@pytest.fixture
def answers_file(tmp_path):
    """Write an answers object to a JSON file and return its path as a string."""
    def write(answers: dict, name: str = "answers.json") -> str:
        path = tmp_path / name
        path.write_text(json.dumps(answers), encoding="utf-8")
        return str(path)

    return write


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL cluster for the session, started by the first test that needs it."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster):
    """A fresh, empty PostgreSQL database for one test, as the owner role."""
    url = postgres_cluster.new_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where a test's store lives, on each backend: an SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "triage.db"
    return request.getfixturevalue("pg_url")
