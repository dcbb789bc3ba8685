"""Shared fixtures. Helpers live in tests/support/ and data in tests/data/; ROOT and run_cli are
re-exported here because most tests start with ``from conftest import ROOT, run_cli``."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from support import ROOT
from support.browser import browser  # noqa: F401  (one chromium for the whole session, for every browser test)
from support.cli import Run, run_cli
from support.postgres import start_cluster

__all__ = ["ROOT", "Run", "run_cli"]

# The suite tests what ships: the package installed from the wheel, never the checkout's triage/
# (which once hid a wheel without the staff templates). TRIAGE_TEST_SOURCE=1 allows an editable
# install for a quick loop on a developer machine; CI never sets it.
SOURCE = (ROOT / "triage").resolve()


def checkout_modules() -> list[str]:
    """The triage modules this process loaded from the checkout instead of the installed package."""
    return sorted(name for name, module in list(sys.modules.items())
                  if (name == "triage" or name.startswith("triage.")) and getattr(module, "__file__", None)
                  and Path(module.__file__).resolve().is_relative_to(SOURCE))


def pytest_sessionstart(session):
    import triage  # noqa: F401

    if checkout_modules() and os.environ.get("TRIAGE_TEST_SOURCE") != "1":
        pytest.exit(f"the tests import triage from the checkout ({SOURCE}), not the installed package: install "
                    "it (pip install '.[test]') and run .venv/bin/pytest, not python -m pytest (which puts the "
                    "current folder first); TRIAGE_TEST_SOURCE=1 allows an editable install", returncode=4)

# The per-user store (triage.records.store.default_path) of this test session, never the developer's own: a
# command without --db (an answers file's red flag is also kept in the store) writes here.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="triage-test-data-")
atexit.register(shutil.rmtree, os.environ["XDG_DATA_HOME"], ignore_errors=True)

# The machine's own triage settings are not the tests': a TRIAGE_* variable of the developer's shell
# (TRIAGE_DB would send commands to their store) and the service configuration of a machine where triage
# is installed as a service (/etc/fbss-triage/triage.toml: every command would read its store and warn).
# Commands read an empty configuration file unless a test names another; the test tools' own are kept.
_KEPT = {"TRIAGE_TEST_SOURCE", "TRIAGE_CHROMIUM", "TRIAGE_CACHE_DIR", "TRIAGE_DIFF_EXAMPLES"}
for name in [name for name in os.environ if name.startswith("TRIAGE_") and name not in _KEPT]:
    os.environ.pop(name)
_NO_SERVICE = tempfile.mkdtemp(prefix="triage-test-config-")
atexit.register(shutil.rmtree, _NO_SERVICE, ignore_errors=True)
os.environ["TRIAGE_CONFIG"] = os.path.join(_NO_SERVICE, "no-service.toml")
open(os.environ["TRIAGE_CONFIG"], "w").close()

# Output is as wide as COLUMNS says when not at a terminal: the tests' output must not depend on the
# shell that started them (tests that need a width set it).
for name in ("COLUMNS", "LINES"):
    os.environ.pop(name, None)

# Definitions kept validated between runs (triage/core/definition_cache.py) go to a folder of this test
# session, never the developer's own cache; commands the tests start inherit it.
if "TRIAGE_CACHE_DIR" not in os.environ:
    os.environ["TRIAGE_CACHE_DIR"] = tempfile.mkdtemp(prefix="triage-test-cache-")
    atexit.register(shutil.rmtree, os.environ["TRIAGE_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(autouse=True)
def no_kept_decisions():
    """Every test starts with no engine decision kept for reuse (triage.decision.decisions) and no result JSON
    kept (triage.decision.batch_json), so what a test sees never depends on which tests ran before it, and a
    test that breaks the engine reaches it."""
    from triage.decision import batch_json, decisions

    decisions.forget()
    batch_json.forget()


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
