"""Hypothesis strategies for valid raw answers objects (what a JSON file may hold), including the
forms people really write: true/false, shorthand levels, month-only dates, "unknown", absent keys."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

from triage.core.answers import PAIN_LOCATIONS, PAIN_PATTERNS, PAIN_QUALITIES, RED_FLAGS, VA_QUESTIONS
from triage.core.segments import SEGMENTS, VERTEBRAE

YES_NO_FIELDS = ("surgical_report_available", "mri_available", "hardware_problem_known",
                 "mechanical_symptoms", *RED_FLAGS, "veteran", *VA_QUESTIONS)
SHORTHAND = {"L4-L5": ["L4-5", "L4/L5", "l4-l5"], "L5-S1": ["L5-S1", "l5/s1", "L5S1"]}

yes_no_unknown = st.sampled_from(["yes", "no", "unknown", True, False, "Yes", "NO"])
safety_answer = st.sampled_from(["yes", "no", "unknown", True, False])


def segment_text(segment: str):
    return st.sampled_from([segment, *SHORTHAND.get(segment, [])])


# A range of vertebrae, upper one first (L3-S1): it stands for every segment between them.
vertebra_range = st.tuples(st.integers(0, len(VERTEBRAE) - 2), st.integers(1, len(VERTEBRAE) - 1)).filter(
    lambda ends: ends[0] < ends[1]).map(lambda ends: f"{VERTEBRAE[ends[0]]}-{VERTEBRAE[ends[1]]}")

segments = st.one_of(
    st.just("unknown"),
    st.lists(st.sampled_from(SEGMENTS), max_size=4).flatmap(
        lambda chosen: st.tuples(*[segment_text(s) for s in chosen]).map(list)
    ),
    st.lists(st.one_of(vertebra_range, st.sampled_from(SEGMENTS)), min_size=1, max_size=2),
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


@st.composite
def answers_with_records(draw):
    """Answers whose records are (nearly) complete: the operative report and an MRI dated around the
    currency boundary, after (or around) the fusion. Plain ``answers()`` rarely reaches the rules that
    need everything on file (step 1 done, ready_for_evaluation); this one aims at them."""
    raw = draw(answers())
    assessed = date.fromisoformat(raw["assessment_date"])
    raw["surgical_report_available"] = draw(st.sampled_from(["yes", True, "yes", "unknown"]))
    raw["mri_available"] = draw(st.sampled_from(["yes", True, "yes", "no"]))
    mri = assessed - timedelta(days=draw(st.integers(0, 400)))  # either side of the 12-month boundary
    raw["mri_date"] = f"{mri:%Y-%m}" if draw(st.booleans()) else mri.isoformat()
    fusion = mri - timedelta(days=draw(st.integers(-31, 2000)))  # mostly before the MRI, sometimes not
    if fusion <= assessed:
        raw["fusion_date"] = f"{fusion:%Y-%m}" if draw(st.booleans()) else fusion.isoformat()
    if draw(st.booleans()):  # fused and tear levels both given: the step-4 comparison happens
        raw["fused_levels"] = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=3, unique=True))
        raw["annular_tear_levels"] = draw(st.lists(st.sampled_from(SEGMENTS), max_size=3, unique=True))
    for name in RED_FLAGS:
        raw[name] = draw(st.sampled_from(["no", "no", "no", "unknown", "yes"]))
    return raw


def facts(baselines=()):
    """Engine facts drawn directly from the fact vocabulary: every value of every fact, in any
    combination, including ones no answers object produces (e.g. an MRI 'current' with no date).
    Half of them start from one of ``baselines`` (real derived facts) with up to four facts changed,
    which keeps rules that need many facts at once (step 1 done) within reach."""
    from triage.core.facts import FACTS

    uniform = st.fixed_dictionaries({name: st.sampled_from(spec.values) for name, spec in FACTS.items()})
    if not baselines:
        return uniform
    changes = st.lists(st.sampled_from(list(FACTS)), max_size=4, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: st.sampled_from(FACTS[name].values) for name in names})
    )
    perturbed = st.builds(lambda base, changed: {**base, **changed}, st.sampled_from(list(baselines)), changes)
    return st.one_of(uniform, perturbed)
