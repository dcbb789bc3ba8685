"""Rendered output compared with reviewed golden files (regenerate: python tests/regen.py golden)."""

from __future__ import annotations

import pytest

from support.golden_cases import cases, render


@pytest.mark.parametrize("source, fmt, golden", cases(), ids=lambda v: getattr(v, "name", v))
def test_rendering_matches_golden(source, fmt, golden):
    assert golden.exists(), f"no golden file {golden.name}: run python tests/regen.py golden"
    assert render(source, fmt) == golden.read_text(encoding="utf-8")
