"""The golden renderings: which answers files, which formats. Shared by the test and the script
that regenerates them (python tests/regen.py golden), so both always render the same way."""

from __future__ import annotations

from pathlib import Path

from support import DATA, ROOT
from support.cli import run_cli

GOLDEN = DATA / "golden"
SOURCES = sorted(ROOT.glob("examples/*.json")) + [
    DATA / "scenarios" / "golden" / name
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
