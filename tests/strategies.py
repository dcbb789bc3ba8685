"""Hypothesis strategies for valid raw answers objects (what a JSON file may hold), including the
forms people really write: true/false, shorthand levels, month-only dates, "unknown", absent keys."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from triage.answers import PAIN_LOCATIONS, PAIN_PATTERNS, PAIN_QUALITIES, RED_FLAGS
from triage.segments import SEGMENTS

YES_NO_FIELDS = ("surgical_report_available", "mri_available", "hardware_problem_known",
                 "mechanical_symptoms", *RED_FLAGS, "veteran")
SHORTHAND = {"L4-L5": ["L4-5", "L4/L5", "l4-l5"], "L5-S1": ["L5-S1", "l5/s1", "L5S1"]}

yes_no_unknown = st.sampled_from(["yes", "no", "unknown", True, False, "Yes", "NO"])
safety_answer = st.sampled_from(["yes", "no", "unknown", True, False])


def segment_text(segment: str):
    return st.sampled_from([segment, *SHORTHAND.get(segment, [])])


segments = st.one_of(
    st.just("unknown"),
    st.lists(st.sampled_from(SEGMENTS), max_size=4).flatmap(
        lambda chosen: st.tuples(*[segment_text(s) for s in chosen]).map(list)
    ),
)


def partial_date_before(assessed: date):
    def fmt(args):
        days, month_only = args
        day = assessed - timedelta(days=days)
        return f"{day:%Y-%m}" if month_only else day.isoformat()

    return st.one_of(st.just("unknown"), st.tuples(st.integers(0, 3000), st.booleans()).map(fmt))


@st.composite
def answers(draw, red_flags=safety_answer):
    """A valid raw answers object; any key may be absent."""
    assessed = draw(st.dates(date(2020, 1, 1), date(2026, 11, 24)))
    candidates = {
        "patient_id": st.from_regex(r"[A-Z]{1,3}-[0-9]{1,6}", fullmatch=True),
        "fusion_date": partial_date_before(assessed),
        "fused_levels": segments,
        "mri_date": partial_date_before(assessed),
        "annular_tear_levels": segments,
        "pain_location": st.sampled_from(PAIN_LOCATIONS),
        "pain_quality": st.lists(st.sampled_from(PAIN_QUALITIES), max_size=4),
        "pain_pattern_since_surgery": st.sampled_from(PAIN_PATTERNS),
        "pain_score": st.integers(0, 10),
        **{name: yes_no_unknown for name in YES_NO_FIELDS if name not in RED_FLAGS},
        **{name: red_flags for name in RED_FLAGS},
    }
    raw = {"assessment_date": assessed.isoformat()}
    for name, strategy in candidates.items():
        if draw(st.booleans()) or name in RED_FLAGS and draw(st.booleans()):
            raw[name] = draw(strategy)
    return raw
