"""Lumbar motion segments: the vocabulary, shorthand normalisation, spine order and adjacency."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Top to bottom. The tool's vocabulary stops at T12-L1: the level above it is not representable.
SEGMENTS: tuple[str, ...] = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
_ORDER = {name: index for index, name in enumerate(SEGMENTS)}
# Upper vertebra of each segment -> its canonical name; the lower vertebra must be the next one.
_BY_UPPER = {name.split("-")[0]: name for name in SEGMENTS}

_SHORTHAND = re.compile(r"^\s*([TLS])\s*([0-9]{1,2})\s*[-/\u2013]?\s*([TLS]?)\s*([0-9]{1,2})\s*$", re.I | re.ASCII)


def normalise_segment(text: str) -> str:
    """``L4-5``, ``L4/L5``, ``l4-l5`` -> ``L4-L5``; raises ValueError for anything else."""
    match = _SHORTHAND.match(text)
    if match:
        upper = f"{match.group(1).upper()}{int(match.group(2))}"
        canonical = _BY_UPPER.get(upper)
        if canonical:
            lower = canonical.split("-")[1]
            lower_letter = match.group(3).upper() or lower[0]
            if f"{lower_letter}{int(match.group(4))}" == lower:
                return canonical
    raise ValueError(f"{text!r} is not a lumbar segment (use one of {', '.join(SEGMENTS)})")


def in_spine_order(segments: Iterable[str]) -> list[str]:
    """Deduplicated, top to bottom."""
    return sorted(set(segments), key=_ORDER.__getitem__)


def adjacent_levels(fused: Iterable[str]) -> list[str]:
    """Segments directly above and below each fused block, fused ones excluded, top to bottom."""
    fused_index = {_ORDER[name] for name in fused}
    neighbours = {i + step for i in fused_index for step in (-1, 1)}
    return [SEGMENTS[i] for i in sorted(neighbours - fused_index) if 0 <= i < len(SEGMENTS)]
