"""Calendar arithmetic, partial dates and spinal levels, as tables with boundary pairs."""

from __future__ import annotations

from datetime import date

import pytest

from triage.core.dates import PartialDate, add_months, whole_months_between
from triage.core.segments import SEGMENTS, adjacent_levels, expand_segments, in_spine_order, normalise_segment

D = date.fromisoformat


@pytest.mark.parametrize("start, months, expected", [
    ("2025-08-31", 6, "2026-02-28"),   # clamps to the end of a short month
    ("2023-08-31", 6, "2024-02-29"),   # leap year
    ("2024-02-29", 12, "2025-02-28"),
    ("2024-02-29", -12, "2023-02-28"),
    ("2026-11-24", -12, "2025-11-24"),
    ("2025-01-31", 1, "2025-02-28"),
    ("2025-12-15", 1, "2026-01-15"),   # year rollover
    ("2026-01-15", -1, "2025-12-15"),
])
def test_add_months(start, months, expected):
    assert add_months(D(start), months) == D(expected)


@pytest.mark.parametrize("start, end, expected", [
    ("2025-05-24", "2025-11-23", 5),   # the day before six months
    ("2025-05-24", "2025-11-24", 6),   # exactly six months
    ("2025-08-31", "2026-02-27", 5),
    ("2025-08-31", "2026-02-28", 6),   # Aug 31 + 6 months = Feb 28
    ("2026-11-24", "2026-11-24", 0),
    ("2026-11-25", "2026-11-24", 0),   # never negative
    ("2020-01-31", "2026-11-24", 81),
])
def test_whole_months_between(start, end, expected):
    assert whole_months_between(D(start), D(end)) == expected


@pytest.mark.parametrize("text, earliest, latest", [
    ("2024-06-10", "2024-06-10", "2024-06-10"),
    ("2024-06", "2024-06-01", "2024-06-30"),
    ("2024-02", "2024-02-01", "2024-02-29"),
    ("2023-02", "2023-02-01", "2023-02-28"),
])
def test_partial_date_ends(text, earliest, latest):
    parsed = PartialDate.parse(text)
    assert parsed.earliest == D(earliest) and parsed.latest() == D(latest) and str(parsed) == text


def test_month_only_date_is_never_later_than_the_assessment():
    assert PartialDate.parse("2026-11").latest(not_after=D("2026-11-24")) == D("2026-11-24")


@pytest.mark.parametrize("text", ["2026-02-30", "2025-13", "2025-00", "2025-6", "06/2024", "2024", "", "2024-06-1",
                                  "0000-06", "0000-06-01"])
def test_impossible_or_malformed_dates_are_rejected(text):
    with pytest.raises(ValueError):
        PartialDate.parse(text)


@pytest.mark.parametrize("text, expected", [
    ("L4-L5", "L4-L5"), ("L4-5", "L4-L5"), ("L4/L5", "L4-L5"), ("l4-l5", "L4-L5"), (" L4 - L5 ", "L4-L5"),
    ("L5-S1", "L5-S1"), ("L5/S1", "L5-S1"), ("l5s1", "L5-S1"), ("T12-L1", "T12-L1"), ("t12/l1", "T12-L1"),
    ("L1-2", "L1-L2"),
])
def test_shorthand_is_normalised(text, expected):
    assert normalise_segment(text) == expected


@pytest.mark.parametrize("text", ["L4-L6", "L5-L6", "C5-C6", "L4", "L5-S2", "T11-T12", "L4-6", "LL4-5", ""])
def test_not_a_segment(text):
    with pytest.raises(ValueError, match="not a lumbar segment"):
        normalise_segment(text)


@pytest.mark.parametrize("text, expected", [
    ("L4-S1", ["L4-L5", "L5-S1"]), ("L2-L4", ["L2-L3", "L3-L4"]), ("L2-4", ["L2-L3", "L3-L4"]),
    ("T12-L2", ["T12-L1", "L1-L2"]), ("L4-L5", ["L4-L5"]), ("L5-1", ["L5-S1"]), ("T12-1", ["T12-L1"]),
    ("t12/s1", list(SEGMENTS)),
])
def test_ranges_expand_top_to_bottom(text, expected):
    assert expand_segments(text) == expected


@pytest.mark.parametrize("text, message", [
    ("L5-L4", "reversed range"), ("S1-L4", "reversed range"), ("L3-1", "reversed range"),
    ("L4-L4", "one vertebra twice"), ("L4-L6", "not a lumbar segment"), ("T11-L1", "not a lumbar segment"),
])
def test_reversed_and_impossible_ranges_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        expand_segments(text)


def test_one_segment_is_asked_for_a_range_is_refused():
    with pytest.raises(ValueError, match="spans 2 segments"):
        normalise_segment("L4-S1")


@pytest.mark.parametrize("fused, expected", [
    (["L4-L5"], ["L3-L4", "L5-S1"]),
    (["L4-L5", "L5-S1"], ["L3-L4"]),
    (["L2-L3", "L4-L5"], ["L1-L2", "L3-L4", "L5-S1"]),   # two blocks share a neighbour
    (["T12-L1"], ["L1-L2"]),                              # nothing above T12-L1 in the vocabulary
    (["L5-S1"], ["L4-L5"]),                               # nothing below the sacrum
    (["T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"], []),
    ([], []),
])
def test_adjacent_levels(fused, expected):
    assert adjacent_levels(fused) == expected


def test_spine_order_deduplicates():
    assert in_spine_order(["L5-S1", "L3-L4", "L5-S1"]) == ["L3-L4", "L5-S1"]


def test_the_earliest_representable_month_parses():
    """Year 1 is a date Python can hold; refusing implausible years (before 1900) is the answers
    layer's job, with its own message."""
    assert PartialDate.parse("0001-01").earliest == date(1, 1, 1)


def test_partial_dates_are_immutable_and_refuse_direct_comparison():
    """A month and a day cannot be ordered safely; code must pick ``earliest`` or ``latest()``."""
    month = PartialDate.parse("2024-06")
    with pytest.raises(AttributeError):
        month.day = 15
    with pytest.raises(TypeError):
        month < PartialDate.parse("2024-06-15")
