"""Helpers shared by the tests, imported as ``support.NAME`` (pytest puts tests/ on sys.path; the
regeneration script tests/regen.py does the same). Test data lives in tests/data/."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
DATA = TESTS / "data"  # golden/, scenarios/, malformed/, language/, review/
