"""Exhaustive tables and whole-space properties of the safety logic, through the real pipeline.

- Every combination of the six red-flag answers (yes / no / unknown / absent: 4^6 = 4096) on a
  background where everything else is complete, and every yes/no/unknown combination (3^6 = 729) on
  an empty and a too-early background, checked against PRODUCT.md's red-flag rules.
- Monotonicity: turning one safety answer into yes never lowers the status precedence or urgency.
- Totality: every valid answers object yields a result: a cartesian product of representative
  boundary values for the fields that drive date and level arithmetic. (Generated answers through
  every output format: tests/test_properties.py::test_no_diagnostic_wording_in_any_output.)
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.strategies import YES_NO_FIELDS, answers
from triage.answers import RED_FLAGS, parse_answers
from triage.assess import assess
from triage.dates import add_months
from triage.questionnaire import load_questionnaire
from triage.render.result import render_markdown
from triage.ruleset import load_ruleset
from triage.segments import SEGMENTS
from triage.settings import load_settings

RULESET = load_ruleset()
SETTINGS = load_settings()
QUESTIONNAIRE = load_questionnaire()
TODAY = date(2026, 11, 24)
ABSENT = "absent"  # the key is left out of the answers object
ORDER = ["urgent", "too_early", "records_needed", "ready_for_evaluation"]  # first = highest precedence
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COMPLETE = {  # nothing missing, past the healing window: without red flags this is ready_for_evaluation
    "assessment_date": "2026-06-15", "fusion_date": "2025-03-10", "fused_levels": ["L4-L5"],
    "surgical_report_available": "yes", "mri_available": "yes", "mri_date": "2026-02-01",
    "annular_tear_levels": [], "pain_location": "back", "pain_quality": ["aching"],
}
TOO_EARLY = {"assessment_date": "2026-06-15", "fusion_date": "2026-03"}


def with_flags(background: dict, values: tuple[str, ...]) -> dict:
    raw = dict(background)
    raw.update({flag: value for flag, value in zip(RED_FLAGS, values) if value != ABSENT})
    return raw


def check_red_flag_rules(background: dict, values: tuple[str, ...], calm_status: str):
    result = assess(parse_answers(with_flags(background, values), today=TODAY), RULESET, SETTINGS)
    yes = [flag for flag, value in zip(RED_FLAGS, values) if value == "yes"]
    open_ = [flag for flag, value in zip(RED_FLAGS, values) if value in ("unknown", ABSENT)]
    missing = [item.id for item in result.missing_items]
    assert result.red_flags == yes, values
    assert (result.status.value == "urgent") == bool(yes), values
    assert (result.physician_consult.urgency == "emergency") == bool(yes), values
    assert ("red_flag_screen" in missing) == bool(open_), values
    if open_:
        assert result.status.value != "ready_for_evaluation", values
        assert ORDER.index(result.status.value) <= ORDER.index("records_needed"), values
    if not yes and not open_:
        assert result.status.value == calm_status, values
    assert result.physician_consult.recommended is True


def test_every_red_flag_combination_with_absent_on_a_complete_background():
    combinations = list(itertools.product(("yes", "no", "unknown", ABSENT), repeat=6))
    assert len(combinations) == 4096
    for values in combinations:
        check_red_flag_rules(COMPLETE, values, "ready_for_evaluation")


@pytest.mark.parametrize("background, calm_status", [({}, "records_needed"), (TOO_EARLY, "too_early")],
                         ids=["empty", "too-early"])
def test_every_yes_no_unknown_red_flag_combination(background, calm_status):
    combinations = list(itertools.product(("yes", "no", "unknown"), repeat=6))
    assert len(combinations) == 729
    for values in combinations:
        check_red_flag_rules(background, values, calm_status)


def _rank(result) -> tuple[int, int]:
    """Smaller is more urgent: (status precedence, 0 for an emergency consult)."""
    return ORDER.index(result.status.value), 0 if result.physician_consult.urgency == "emergency" else 1


@PROPERTY
@given(answers(), st.sampled_from(RED_FLAGS), st.sampled_from(["no", "unknown", ABSENT]))
def test_a_red_flag_turned_yes_never_lowers_urgency(raw, flag, before):
    raw = {k: v for k, v in raw.items() if k != flag}
    if before != ABSENT:
        raw[flag] = before
    lower = assess(parse_answers(raw, today=TODAY), RULESET, SETTINGS)
    higher = assess(parse_answers({**raw, flag: "yes"}, today=TODAY), RULESET, SETTINGS)
    assert _rank(higher) <= _rank(lower)
    assert _rank(higher) == (0, 0)
    assert set(lower.red_flags) <= set(higher.red_flags)


@PROPERTY
@given(answers(), st.sampled_from(["hardware_problem_known", "mechanical_symptoms"]),
       st.sampled_from(["no", "unknown", ABSENT]))
def test_a_structural_concern_turned_yes_never_loses_attention(raw, question, before):
    """The structural questions are not red flags, but a yes must never make step 3 calmer."""
    raw = {k: v for k, v in raw.items() if k != question}
    if before != ABSENT:
        raw[question] = before
    lower = assess(parse_answers(raw, today=TODAY), RULESET, SETTINGS)
    higher = assess(parse_answers({**raw, question: "yes"}, today=TODAY), RULESET, SETTINGS)
    assert higher.steps[2].status.value == "attention"
    assert "structural_review" in [point.id for point in higher.discussion_points]
    assert _rank(higher) == _rank(lower)  # a topic for the physician, not a change of status


# ---------------------------------------------------------------------------------------------
# Totality

def _representative_dates(assessed: date) -> list[str]:
    """Absent, unknown, and the boundaries of the healing window and MRI currency, full and month-only."""
    days = [assessed, assessed - timedelta(days=1), add_months(assessed, -6), add_months(assessed, -6) + timedelta(days=1),
            add_months(assessed, -12), add_months(assessed, -12) - timedelta(days=1), add_months(assessed, -40)]
    return [ABSENT, "unknown", *(d.isoformat() for d in days), *sorted({f"{d:%Y-%m}" for d in days})]


DATE_ASSESSMENTS = ["2024-02-29", "2025-08-31", "2026-01-01"]  # leap day, month end, year start
LEVELS = [ABSENT, "unknown", [], ["T12-L1"], ["L4-5", "L5/S1"], ["L2-L3", "L4-L5"], list(SEGMENTS)]


def _total(raw: dict) -> None:
    parsed = parse_answers({k: v for k, v in raw.items() if v != ABSENT}, today=TODAY)
    result = assess(parsed, RULESET, SETTINGS)
    assert result.physician_consult.recommended is True
    assert [step.step for step in result.steps] == [1, 2, 3, 4]
    render_markdown(result, parsed.answered(), QUESTIONNAIRE)


def test_totality_over_every_combination_of_boundary_dates():
    cases = 0
    for assessed in DATE_ASSESSMENTS:
        dates = _representative_dates(date.fromisoformat(assessed))
        for fusion, mri, mri_available in itertools.product(dates, dates, ("yes", "no", "unknown", ABSENT)):
            _total({"assessment_date": assessed, "fusion_date": fusion, "mri_date": mri,
                    "mri_available": mri_available, "surgical_report_available": "yes"})
            cases += 1
    assert cases > 2000


def test_totality_over_every_combination_of_levels():
    for fused, tears, location in itertools.product(LEVELS, LEVELS, ("back", "leg", ABSENT)):
        _total({"fused_levels": fused, "annular_tear_levels": tears, "pain_location": location,
                "pain_quality": ["burning"]})


def test_every_yes_no_question_accepts_every_spelling():
    """Totality over the accepted spellings of yes/no/unknown, one question at a time."""
    for question, spelling in itertools.product(YES_NO_FIELDS, ("yes", "no", "unknown", True, False, " Yes ", "NO")):
        _total({question: spelling})
