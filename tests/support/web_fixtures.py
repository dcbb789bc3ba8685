"""The fixtures the web test modules share: ``clock`` (a Clock the test moves by hand) and, from
``store_and_app``, ``db`` (a fresh store path) and ``app`` (the app on that store and clock). A test
module imports them by name, as with support/cds_hooks_support.py:

    from support.web_fixtures import clock, store_and_app  # noqa: F401 (fixtures)
    db, app = store_and_app(staff=STAFF, kiosk=True)

What differs between modules (the accounts in the store, the app's options) is a parameter, so each
module still says what it sets up."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.web import Clock, add_staff, make_app

# The two accounts most staff-page tests sign in with, in the order they are added.
STAFF = (("cora", "coordinator"), ("clint", "clinician"))


@pytest.fixture
def clock() -> Clock:
    """A clock the test moves by hand, shared by the app and the test."""
    return Clock()


def store_and_app(*, staff: tuple[tuple[str, str], ...] = (), **options):
    """The ``db`` and ``app`` fixtures of a module: the store at tmp_path/store/triage.db with the
    ``staff`` accounts ((name, role) pairs; none: the store is not made yet), and ``make_app(db,
    clock=clock, **options)``."""

    @pytest.fixture
    def db(tmp_path) -> Path:
        """A fresh store path for one test (with the module's staff accounts)."""
        path = tmp_path / "store" / "triage.db"
        for name, role in staff:
            add_staff(path, name, role)
        return path

    @pytest.fixture
    def app(db, clock):
        """The app on ``db`` and ``clock``, with the module's options."""
        return make_app(db, clock=clock, **options)

    return db, app
