"""The answers contract: what is accepted, how it is normalised, and how problems are named."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.core.answers import KINDS, QUESTION_IDS, RED_FLAGS, VA_QUESTIONS, parse_answers
from triage.core.errors import InvalidInput

TODAY = date(2026, 11, 24)


def problems(raw, **kwargs):
    with pytest.raises(InvalidInput) as caught:
        parse_answers(raw, today=TODAY, **kwargs)
    return [(p.where, p.message) for p in caught.value.problems]


def test_question_ids_are_the_contract():
    assert QUESTION_IDS == (
        "patient_id", "assessment_date", "fusion_date", "fused_levels", "surgical_report_available",
        "mri_available", "mri_date", "annular_tear_levels", "pain_location", "pain_quality",
        "pain_pattern_since_surgery", "pain_score", "hardware_problem_known", "mechanical_symptoms",
        "red_flag_bladder_bowel", "red_flag_saddle_numbness", "red_flag_sexual_function", "red_flag_both_legs",
        "red_flag_progressive_weakness", "red_flag_clot_signs", "red_flag_major_trauma", "red_flag_fever_or_wound",
        "red_flag_cancer_or_weight_loss", "red_flag_immunosuppression", "veteran", "va_enrolled",
        "va_drive_time_over_standard", "va_wait_over_standard", "va_no_full_service_facility", "va_referral",
    )


def test_red_flags_in_questionnaire_order_and_va_questions():
    assert RED_FLAGS == tuple(q for q in QUESTION_IDS if q.startswith("red_flag_"))
    assert len(RED_FLAGS) == 10
    assert VA_QUESTIONS == tuple(q for q in QUESTION_IDS if q.startswith("va_"))


@pytest.mark.parametrize("given, stored", [
    (["L4-S1"], ["L4-L5", "L5-S1"]),
    (["L2-L4"], ["L2-L3", "L3-L4"]),
    (["L2-4"], ["L2-L3", "L3-L4"]),
    (["T12-S1"], ["T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]),
    (["L3-L5", "L4-S1"], ["L3-L4", "L4-L5", "L5-S1"]),   # overlapping ranges: each segment once
    (["l4-s1"], ["L4-L5", "L5-S1"]),
    (["L5-1"], ["L5-S1"]),                                # shorthand across the lumbosacral junction
])
def test_segment_ranges_expand_to_every_segment_between(given, stored):
    for field in ("fused_levels", "annular_tear_levels"):
        assert parse_answers({field: given}, today=TODAY).answered()[field] == stored


@pytest.mark.parametrize("given, hint", [
    ("L5-L4", "reversed range: put the upper vertebra first (L4-L5)"),
    ("S1-L4", "reversed range: put the upper vertebra first (L4-S1)"),
    ("L4-L4", "names one vertebra twice"),
    ("L4-L6", "is not a lumbar segment or range"),
    ("T11-L2", "is not a lumbar segment or range"),
])
def test_reversed_or_impossible_ranges_are_errors_naming_the_field(given, hint):
    found = problems({"fused_levels": [given]})
    assert [where for where, _ in found] == ["fused_levels"]
    assert hint in found[0][1]


def test_old_answers_files_stay_valid_and_lack_only_the_new_questions():
    """A ruleset 1.x answers file: the four newer red-flag questions are simply not answered."""
    old = {flag: "no" for flag in ("red_flag_bladder_bowel", "red_flag_saddle_numbness",
                                   "red_flag_progressive_weakness", "red_flag_fever_or_wound",
                                   "red_flag_major_trauma", "red_flag_cancer_or_weight_loss")}
    parsed = parse_answers({**old, "veteran": "yes"}, today=TODAY)
    for question in ("red_flag_sexual_function", "red_flag_both_legs", "red_flag_clot_signs",
                     "red_flag_immunosuppression", *VA_QUESTIONS):
        assert getattr(parsed, question) is None


@pytest.mark.parametrize("field, given, stored", [
    ("veteran", True, "yes"), ("veteran", False, "no"), ("veteran", " Unknown ", "unknown"),
    ("fused_levels", ["L5/S1", "l4-5", "L4-L5"], ["L4-L5", "L5-S1"]),
    ("annular_tear_levels", [], []),
    ("fused_levels", "UNKNOWN", "unknown"),
    ("fused_levels", "L4-5", ["L4-L5"]),  # one segment written as text: a one-item list
    ("annular_tear_levels", "l5/s1", ["L5-S1"]),
    ("pain_quality", ["shooting", "aching", "shooting"], ["aching", "shooting"]),
    ("fusion_date", "2024-06", "2024-06"),
    ("pain_score", 7.0, 7),
    ("pain_location", "Back_And_Leg", "back_and_leg"),
])
def test_normalised(field, given, stored):
    assert parse_answers({field: given}, today=TODAY).answered()[field] == stored


def test_null_is_not_answered():
    parsed = parse_answers({"red_flag_major_trauma": None}, today=TODAY)
    assert parsed.red_flag_major_trauma is None
    assert "red_flag_major_trauma" not in parsed.answered()


def test_assessment_date_precedence():
    assert parse_answers({}, today=TODAY).assessment_date == TODAY
    assert parse_answers({"assessment_date": "2025-01-02"}, today=TODAY).assessment_date == date(2025, 1, 2)
    as_of = date(2025, 3, 4)
    assert parse_answers({"assessment_date": "2025-01-02"}, today=TODAY, as_of=as_of).assessment_date == as_of


def test_unknown_key_gets_a_did_you_mean():
    assert problems({"fusion_dat": "2024-01"}) == [("fusion_dat", "is not a question id (did you mean 'fusion_date'?)")]
    assert problems({"colour": "red"}) == [("colour", "is not a question id")]


def test_every_problem_is_reported_with_its_field():
    found = problems({"fusion_date": "2026-02-30", "pain_score": 11, "veteran": "maybe", "fused_levels": ["L6-L7"]})
    assert [where for where, _ in found] == ["fusion_date", "fused_levels", "pain_score", "veteran"]


@pytest.mark.parametrize("raw, field", [
    ({"fusion_date": "2026-11-25"}, "fusion_date"),          # the day after the assessment
    ({"mri_date": "2026-12"}, "mri_date"),                   # a month wholly after it
    ({"pain_score": True}, "pain_score"),                    # JSON true is not a score
    ({"pain_score": 7.5}, "pain_score"),
    ({"pain_score": "7"}, "pain_score"),
    ({"pain_quality": "burning"}, "pain_quality"),           # a list is required
    ({"mri_available": 1}, "mri_available"),
    ({"patient_id": 12}, "patient_id"),
    ({"fusion_date": "0224-06"}, "fusion_date"),             # typo'd year
    ({"assessment_date": "2026-11"}, "assessment_date"),     # must be a full date
    ({"annular_tear_levels": "none"}, "annular_tear_levels"),
])
def test_rejected_with_the_field_named(raw, field):
    assert [where for where, _ in problems(raw)] == [field]


def test_dates_on_the_assessment_day_are_accepted():
    parsed = parse_answers({"fusion_date": "2026-11-24", "mri_date": "2026-11"}, today=TODAY)
    assert parsed.answered()["mri_date"] == "2026-11"


def test_not_an_object():
    assert problems([1, 2]) == [("answers", "must be a JSON object of question id -> answer")]


# --- parse_answers builds the model from answers it checked; model_validate checks them itself ------

_CANDIDATES = {  # per kind of answer: valid values as people write them, then invalid ones
    "yes_no_unknown": ["yes", "No", " unknown ", True, False, "maybe", 1, ""],
    "partial_date": ["2024-03", "2026-11", "2026-12", "2026-11-24", "2026-11-25", "unknown", "2024-02-30", "0224-01", 2024],
    "date": ["2026-11-24", "2025-01-31", "2024-02-30", "24-11-2026", 20261124],
    "segments": ["L4-5", ["L4-S1"], ["L5-S1", "L4-L5"], "unknown", ["L9-L10"], [1], "L4"],
    "choice": ["back", "leg", "back_and_leg", "never_improved", "improved_then_returned", "sideways"],
    "multi_choice": [["aching"], ["burning", "aching"], [], ["nope"], "aching"],
    "integer": [0, 10, 3, 3.0, 3.5, -1, 11, True, "3"],
    "text": ["P-1", "  Ana  ", "x" * 201, "P-1\u202e", 7],
}


@st.composite
def _raw_answers(draw):
    questions = draw(st.lists(st.sampled_from([*QUESTION_IDS, "colour"]), unique=True, max_size=10))
    return {q: draw(st.sampled_from([None, *_CANDIDATES[KINDS[q]]] if q in KINDS else ["red"])) for q in questions}


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(_raw_answers())
def test_parse_answers_and_model_validate_agree_on_every_answer_and_problem(raw):
    """`parse_answers` checks each answer with the functions `Answers`' validators call, then builds the
    model without a pydantic schema (start-up time): same model, same problems, as validating it."""
    from pydantic import ValidationError

    from triage.core.answers import Answers

    known = {key: value for key, value in raw.items() if key != "colour" and value is not None}
    known.setdefault("assessment_date", TODAY)
    try:
        expected = Answers.model_validate(known)
        expected_problems = []
    except InvalidInput as invalid:
        expected, expected_problems = None, [(p.where, p.message) for p in invalid.problems]
    except ValidationError as error:  # the model-level date check
        field, _, message = error.errors()[0]["msg"].removeprefix("Value error, ").partition(": ")
        expected, expected_problems = None, [(field, message)]
    unknown = [("colour", "is not a question id")] if "colour" in raw else []
    if expected is not None and not unknown:
        answers = parse_answers(raw, today=TODAY)
        assert answers == expected
        assert answers.model_fields_set == expected.model_fields_set
        assert answers.answered() == expected.answered()
        assert repr(answers) == repr(expected)
    else:
        assert problems(raw) == unknown + expected_problems
