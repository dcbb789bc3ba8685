"""The golden renderings: which answers files, which formats. Shared by the test and the script
that regenerates them (tests/regen_golden.py), so both always render the same way."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, run_cli

GOLDEN = Path(__file__).parent / "golden"
SOURCES = sorted(ROOT.glob("examples/*.json")) + [
    Path(__file__).parent / "scenarios" / "golden" / name
    for name in ("too-early-month-only.json", "empty.json", "all-discussion-points.json", "tier-same-day.json",
                 "tier-soon-revision-1-file.json")
]
FORMATS = {"text": "txt", "markdown": "md"}


def cases():
    return [(source, fmt, GOLDEN / f"{source.stem}.{ext}") for source in SOURCES for fmt, ext in FORMATS.items()]


def render(source: Path, fmt: str) -> str:
    run = run_cli("assess", str(source), "--format", fmt)
    assert run.code == 0, run.err
    return run.out
