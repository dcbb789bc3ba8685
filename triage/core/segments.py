"""Lumbar motion segments: the vocabulary, shorthand normalisation, ranges, spine order and adjacency."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Top to bottom. The tool's vocabulary stops at T12-L1: the level above it is not representable.
SEGMENTS: tuple[str, ...] = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
_ORDER = {name: index for index, name in enumerate(SEGMENTS)}
# The vertebrae the segments join, top to bottom: segment i joins vertebra i and vertebra i + 1.
VERTEBRAE: tuple[str, ...] = (*(name.split("-")[0] for name in SEGMENTS), SEGMENTS[-1].split("-")[1])
_VERTEBRA_INDEX = {name: index for index, name in enumerate(VERTEBRAE)}

_SHORTHAND = re.compile(r"^\s*([TLS])\s*([0-9]{1,2})\s*[-/\u2013]?\s*([TLS]?)\s*([0-9]{1,2})\s*$", re.I | re.ASCII)


def _not_a_segment(text: str) -> ValueError:
    return ValueError(f"{text!r} is not a lumbar segment or range (use {', '.join(SEGMENTS)}, or a range such as L4-S1)")


def _lower_vertebra(upper: int, letter: str, number: int, text: str) -> int:
    """Index of the lower vertebra. Without a letter (``L4-5``) it is in the upper one's region,
    except just below a region's last vertebra (``L5-1`` = L5-S1, ``T12-1`` = T12-L1)."""
    if not letter:
        region = VERTEBRAE[upper][0]
        following = VERTEBRAE[upper + 1][0] if upper + 1 < len(VERTEBRAE) else region
        letter = following if following != region and f"{following}{number}" in _VERTEBRA_INDEX else region
    found = _VERTEBRA_INDEX.get(f"{letter}{number}")
    if found is None:
        raise _not_a_segment(text)
    return found


def expand_segments(text: str) -> list[str]:
    """One typed level -> its segments, top to bottom. ``L4-5``, ``L4/L5``, ``l4-l5`` -> ``[L4-L5]``;
    a range of vertebrae, upper one first, -> every segment between them (``L4-S1`` -> ``[L4-L5,
    L5-S1]``). Raises ValueError for anything else, and for a reversed range (``L5-L4``)."""
    match = _SHORTHAND.match(text)
    if not match:
        raise _not_a_segment(text)
    upper = _VERTEBRA_INDEX.get(f"{match.group(1).upper()}{int(match.group(2))}")
    if upper is None:
        raise _not_a_segment(text)
    lower = _lower_vertebra(upper, match.group(3).upper(), int(match.group(4)), text)
    if lower <= upper:
        if lower == upper:
            raise ValueError(f"{text!r} names one vertebra twice; a segment joins two (for example L4-L5)")
        raise ValueError(f"{text!r} is a reversed range: put the upper vertebra first "
                         f"({VERTEBRAE[lower]}-{VERTEBRAE[upper]})")
    return list(SEGMENTS[upper:lower])


def normalise_segment(text: str) -> str:
    """``L4-5``, ``L4/L5``, ``l4-l5`` -> ``L4-L5``: exactly one segment (a range is refused)."""
    expanded = expand_segments(text)
    if len(expanded) != 1:
        raise ValueError(f"{text!r} spans {len(expanded)} segments; name one segment (for example L4-L5)")
    return expanded[0]


def in_spine_order(segments: Iterable[str]) -> list[str]:
    """Deduplicated, top to bottom."""
    return sorted(set(segments), key=_ORDER.__getitem__)


def adjacent_levels(fused: Iterable[str]) -> list[str]:
    """Segments directly above and below each fused block, fused ones excluded, top to bottom."""
    fused_index = {_ORDER[name] for name in fused}
    neighbours = {i + step for i in fused_index for step in (-1, 1)}
    return [SEGMENTS[i] for i in sorted(neighbours - fused_index) if 0 <= i < len(SEGMENTS)]
