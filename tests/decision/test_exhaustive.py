"""Exhaustive tables and whole-space properties of the safety logic.

- Every combination of the ten red-flag answers (yes / no / unknown / absent: 4^10 = 1,048,576)
  through the reference evaluator of the rule data (the real pipeline would take most of an hour),
  and every pair of red-flag questions in every pair of answers (45 x 16 = 720) through the real
  pipeline on a complete, an empty and a too-early background, checked against PRODUCT.md's red-flag
  rules: any yes -> urgent, urgency = the highest tier among the yes answers, the screen open while
  any answer is unknown or absent.
- Monotonicity: turning one safety answer into yes never lowers the status precedence or urgency.
- Totality: every valid answers object yields a result: a cartesian product of representative
  boundary values for the fields that drive date and level arithmetic. (Generated answers through
  every output format: tests/decision/test_properties.py::test_no_diagnostic_wording_in_any_output.)
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triage.decision import reference
from support.strategies import YES_NO_FIELDS, answers
from triage.core.answers import RED_FLAGS, parse_answers
from triage.decision.assess import assess
from triage.core.dates import add_months
from triage.core.facts import derive
from triage.core.questionnaire import load_questionnaire
from triage.channels.render.result import render_markdown
from triage.core.ruleset import load_ruleset
from triage.core.segments import SEGMENTS
from triage.core.settings import load_settings

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


# PRODUCT.md's red-flag table, written out here rather than read from the rules file: the rules file
# must agree with it (test_the_rules_file_gives_each_question_the_tier_of_the_product_table).
TIERS = {
    "red_flag_bladder_bowel": "emergency", "red_flag_saddle_numbness": "emergency",
    "red_flag_sexual_function": "emergency", "red_flag_both_legs": "emergency",
    "red_flag_progressive_weakness": "emergency", "red_flag_clot_signs": "emergency",
    "red_flag_major_trauma": "emergency", "red_flag_fever_or_wound": "same_day",
    "red_flag_cancer_or_weight_loss": "soon", "red_flag_immunosuppression": "soon",
}
HIGHEST_FIRST = ("emergency", "same_day", "soon")


def expected_urgency(yes: list[str]) -> str:
    return next((tier for tier in HIGHEST_FIRST if any(TIERS[flag] == tier for flag in yes)), "routine")


def test_the_rules_file_gives_each_question_the_tier_of_the_product_table():
    assert tuple(TIERS) == RED_FLAGS
    assert {flag: RULESET.red_flag_tier(flag) for flag in RED_FLAGS} == TIERS


def check_red_flag_rules(background: dict, values: tuple[str, ...], calm_status: str):
    result = assess(parse_answers(with_flags(background, values), today=TODAY), RULESET, SETTINGS)
    yes = [flag for flag, value in zip(RED_FLAGS, values) if value == "yes"]
    open_ = [flag for flag, value in zip(RED_FLAGS, values) if value in ("unknown", ABSENT)]
    missing = [item.id for item in result.missing_items]
    assert result.red_flags == yes, values
    assert (result.status.value == "urgent") == bool(yes), values
    assert result.physician_consult.urgency == expected_urgency(yes), values
    assert ("red_flag_screen" in missing) == bool(open_), values
    if open_:
        assert result.status.value != "ready_for_evaluation", values
        assert ORDER.index(result.status.value) <= ORDER.index("records_needed"), values
    if not yes and not open_:
        assert result.status.value == calm_status, values
    assert result.physician_consult.recommended is True


ANSWER_FACT = {"yes": "yes", "no": "no", "unknown": "unknown", ABSENT: "unanswered"}  # as derive() maps them


def test_every_red_flag_combination_through_the_reference_evaluator():
    """4^10 combinations of the ten answers, each one's facts judged by every rule that reads a
    red-flag fact (the others do not depend on them), through the reference evaluator; what the
    fired rules conclude is checked against PRODUCT.md's table and wording."""
    background = derive(parse_answers(COMPLETE, today=TODAY), SETTINGS).fact
    # In questionnaire order, so the red flags they conclude come out in that order too.
    relevant = sorted((rule for rule in RULESET.rules if set(rule.when.facts_used()) & set(RED_FLAGS)),
                      key=lambda rule: RED_FLAGS.index(rule.then.red_flag) if rule.then.red_flag else len(RED_FLAGS))
    assert len(relevant) == 11  # one per question, and the screen
    rank = {tier: n for n, tier in enumerate(HIGHEST_FIRST + ("routine",))}
    fact = dict(background)  # one object, its ten red-flag facts overwritten per case (a copy each costs)
    cases = 0
    for values in itertools.product(("yes", "no", "unknown", ABSENT), repeat=len(RED_FLAGS)):
        fact.update(zip(RED_FLAGS, map(ANSWER_FACT.__getitem__, values)))
        fired = [rule.then for rule in relevant if reference.holds(rule.when, fact)]
        yes = [flag for flag, v in zip(RED_FLAGS, values) if v == "yes"]
        urgency = min((then.consult for then in fired if then.consult), key=rank.__getitem__, default="routine")
        assert [then.red_flag for then in fired if then.red_flag] == yes, values
        assert any(then.status == "urgent" for then in fired) == bool(yes), values
        assert urgency == expected_urgency(yes), values
        screen = any(then.missing == "red_flag_screen" for then in fired)
        assert screen == (ABSENT in values or "unknown" in values), values
        cases += 1
    assert cases == 4 ** 10


def _pairs(values=("yes", "no", "unknown", ABSENT), rest="no"):
    """Every pair of red-flag questions in every pair of answers, the other eight answered ``rest``."""
    for first, second in itertools.combinations(range(len(RED_FLAGS)), 2):
        for a, b in itertools.product(values, repeat=2):
            row = [rest] * len(RED_FLAGS)
            row[first], row[second] = a, b
            yield tuple(row)


def test_every_pair_of_red_flags_through_the_real_pipeline_on_a_complete_background():
    pairs = list(_pairs())
    assert len(pairs) == 45 * 16
    for values in pairs:
        check_red_flag_rules(COMPLETE, values, "ready_for_evaluation")
    for value in ("yes", "no", "unknown", ABSENT):  # and all ten alike
        check_red_flag_rules(COMPLETE, (value,) * len(RED_FLAGS), "ready_for_evaluation")


@pytest.mark.parametrize("background, calm_status", [({}, "records_needed"), (TOO_EARLY, "too_early")],
                         ids=["empty", "too-early"])
def test_every_pair_of_yes_no_unknown_red_flags_through_the_real_pipeline(background, calm_status):
    pairs = list(_pairs(("yes", "no", "unknown")))
    assert len(pairs) == 45 * 9
    for values in pairs:
        check_red_flag_rules(background, values, calm_status)


def _rank(result) -> tuple[int, int]:
    """Smaller is more urgent: (status precedence, urgency tier precedence)."""
    return ORDER.index(result.status.value), (*HIGHEST_FIRST, "routine").index(result.physician_consult.urgency)


@PROPERTY
@given(answers(), st.sampled_from(RED_FLAGS), st.sampled_from(["no", "unknown", ABSENT]))
def test_a_red_flag_turned_yes_never_lowers_urgency(raw, flag, before):
    raw = {k: v for k, v in raw.items() if k != flag}
    if before != ABSENT:
        raw[flag] = before
    lower = assess(parse_answers(raw, today=TODAY), RULESET, SETTINGS)
    higher = assess(parse_answers({**raw, flag: "yes"}, today=TODAY), RULESET, SETTINGS)
    assert _rank(higher) <= _rank(lower)
    assert _rank(higher) == (0, HIGHEST_FIRST.index(expected_urgency(higher.red_flags)))
    assert _rank(higher)[1] <= HIGHEST_FIRST.index(TIERS[flag])
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
