"""Rewrite tests/golden/ from the current code. Review the diff before committing: a golden file
changes only when a rendering was meant to change.

    python tests/regen_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from golden_cases import GOLDEN, cases, render  # noqa: E402

GOLDEN.mkdir(exist_ok=True)
for source, fmt, target in cases():
    target.write_text(render(source, fmt), encoding="utf-8")
    print(f"wrote {target.relative_to(GOLDEN.parent.parent)}")
