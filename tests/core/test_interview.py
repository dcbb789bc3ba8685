"""The interview core without a terminal: what typed text means per question type and mode, validation
through the answers contract, skip logic, progress, back, review and red flags."""

from __future__ import annotations

from datetime import date

import pytest

from triage.core.errors import InvalidInput
from triage.core.interview import (
    Answer,
    Back,
    Help,
    InputError,
    Interview,
    interpret,
    problem_lines,
    read_typed_date,
)
from triage.core.questionnaire import load_questionnaire

Q = load_questionnaire()
TODAY = date(2026, 11, 24)
ERROR = InputError

# (question id, mode, typed, expected value or ERROR). The value is what goes to the contract check.
READINGS = [
    # yes / no / unknown
    ("veteran", "coordinator", "y", "yes"),
    ("veteran", "coordinator", "Y", "yes"),
    ("veteran", "coordinator", "no", "no"),
    ("veteran", "coordinator", "u", "unknown"),
    ("veteran", "coordinator", "unknown", "unknown"),
    ("veteran", "coordinator", "maybe", ERROR),
    ("veteran", "coordinator", "3", ERROR),  # coordinators have no numbered "I don't know"
    ("veteran", "patient", "1", "yes"),
    ("veteran", "patient", "2", "no"),
    ("veteran", "patient", "3", "unknown"),
    ("veteran", "patient", "I don't know", "unknown"),
    ("veteran", "patient", "4", ERROR),
    ("red_flag_bladder_bowel", "patient", "dk", "unknown"),
    # one choice
    ("pain_location", "coordinator", "1", "back"),
    ("pain_location", "coordinator", "3", "back_and_leg"),
    ("pain_location", "coordinator", "back+leg", "back_and_leg"),
    ("pain_location", "coordinator", "leg", "leg"),
    ("pain_location", "coordinator", "u", None),  # no "unknown" in a choice: left unanswered
    ("pain_location", "coordinator", "4", ERROR),
    ("pain_location", "coordinator", "0", ERROR),
    ("pain_location", "coordinator", "1 2", ERROR),
    ("pain_location", "patient", "4", None),  # the numbered "I don't know"
    ("pain_location", "patient", "5", ERROR),
    # several choices
    ("pain_quality", "coordinator", "1 3", ["aching", "shooting"]),
    ("pain_quality", "coordinator", "3,1", ["aching", "shooting"]),
    ("pain_quality", "coordinator", "2, 2 4", ["burning", "numbness_tingling"]),
    ("pain_quality", "coordinator", "burning shooting", ["burning", "shooting"]),
    ("pain_quality", "coordinator", "1 9", ERROR),
    ("pain_quality", "coordinator", "u", None),
    ("pain_quality", "patient", "5", None),
    ("pain_quality", "patient", "2 3 5", ERROR),  # "I don't know" cannot be combined
    ("pain_quality", "coordinator", "2 u", ERROR),
    # whole numbers (range is the contract's job)
    ("pain_score", "coordinator", "7", 7),
    ("pain_score", "coordinator", "11", 11),
    ("pain_score", "coordinator", "seven", ERROR),
    ("pain_score", "coordinator", "7.5", ERROR),
    ("pain_score", "coordinator", "7/10", 7),
    ("pain_score", "patient", "7 out of 10", 7),
    ("pain_score", "coordinator", "7/9", ERROR),
    ("pain_score", "patient", "u", None),
    # levels
    ("fused_levels", "coordinator", "L4-5 L5-S1", ["L4-L5", "L5-S1"]),
    ("fused_levels", "coordinator", "l4/l5,L5-S1", ["L4-L5", "L5-S1"]),
    ("fused_levels", "coordinator", "L4-5 and L5-S1", ["L4-L5", "L5-S1"]),
    ("fused_levels", "coordinator", "u", "unknown"),
    ("fused_levels", "coordinator", "none", ERROR),  # a fusion has levels: none is not offered
    ("fused_levels", "coordinator", "L7-8", ERROR),
    ("annular_tear_levels", "coordinator", "none", []),
    ("annular_tear_levels", "patient", "None", []),
    ("annular_tear_levels", "patient", "no", []),
    ("annular_tear_levels", "coordinator", "n", []),
    ("fused_levels", "patient", "no", ERROR),  # a fusion has levels
    # dates (month first by default)
    ("fusion_date", "coordinator", "2024-06-10", "2024-06-10"),
    ("fusion_date", "coordinator", "2024-6-1", "2024-06-01"),
    ("fusion_date", "coordinator", "2024-06", "2024-06"),
    ("fusion_date", "coordinator", "06/2024", "2024-06"),
    ("fusion_date", "coordinator", "6/2024", "2024-06"),
    ("fusion_date", "coordinator", "6/10/2024", "2024-06-10"),
    ("fusion_date", "coordinator", "2025-02-30", "2025-02-30"),  # read; the contract rejects it
    ("fusion_date", "coordinator", "6/10/24", ERROR),
    ("fusion_date", "coordinator", "June 2024", "2024-06"),
    ("fusion_date", "patient", "March 2024", "2024-03"),
    ("fusion_date", "patient", "mar 2024", "2024-03"),
    ("fusion_date", "patient", "Sept. 2024", "2024-09"),
    ("fusion_date", "coordinator", "10 March 2024", "2024-03-10"),
    ("fusion_date", "coordinator", "March 10, 2024", "2024-03-10"),
    ("fusion_date", "coordinator", "Marchember 2024", ERROR),
    ("fusion_date", "patient", "2023", "2023-12"),  # a year alone: the latest month (the safer reading)
    ("mri_date", "patient", "2025", "2025-01"),  # an MRI: the earliest month
    ("assessment_date", "coordinator", "March 2026", ERROR),  # needs its day
    ("assessment_date", "coordinator", "t", "2026-11-24"),  # today (the default shown)
    ("assessment_date", "coordinator", "today", "2026-11-24"),
    ("fusion_date", "coordinator", "u", "unknown"),
    ("fusion_date", "patient", "I don't know", "unknown"),
    ("assessment_date", "coordinator", "2026-11-20", "2026-11-20"),
    ("assessment_date", "coordinator", "11/20/2026", "2026-11-20"),
    ("assessment_date", "coordinator", "2026-11", ERROR),  # the assessment date needs its day
    ("assessment_date", "coordinator", "u", ERROR),
    # text is taken as typed
    ("patient_id", "coordinator", "P-0042", "P-0042"),
    ("patient_id", "coordinator", "u", "u"),
]


@pytest.mark.parametrize("question, mode, typed, expected", READINGS,
                         ids=[f"{q}-{m}-{t!r}" for q, m, t, _ in READINGS])
def test_reading_typed_answers(question, mode, typed, expected):
    item = Q.item(question)
    default = TODAY.isoformat() if item.type == "date" else None  # Enter (and t) mean today there

    def read():
        return interpret(item, typed, mode=mode, unknown_text=Q.questionnaire.unknown_text, default=default,
                         not_after=TODAY)

    if expected is ERROR:
        with pytest.raises(InputError) as error:
            read()
        assert str(error.value)  # always a reason to show
        # ... and, for patients, a sentence of their own for its kind
        assert error.value.kind in Q.patient_wording.errors, error.value.kind
    else:
        assert read().value == expected


def test_a_year_alone_is_never_read_past_the_assessment_date_and_says_so():
    answer = interpret(Q.item("fusion_date"), "2026", mode="patient", not_after=TODAY)
    assert answer == Answer("2026-11", year_alone=True)
    assert interpret(Q.item("fusion_date"), "2024-03", mode="patient").year_alone is False


@pytest.mark.parametrize("question, typed, interactive, back", [
    ("veteran", "b", True, True),
    ("veteran", "b", False, False),  # piped input: only < goes back
    ("veteran", "<", False, True),
    ("pain_location", "b", True, False),  # 1=back 2=leg 3=back+leg: b looks like an answer
    ("pain_quality", "b", True, False),  # burning
    ("fusion_date", "back", True, True),
])
def test_b_goes_back_only_where_it_cannot_look_like_an_answer(question, typed, interactive, back):
    try:
        action = interpret(Q.item(question), typed, mode="coordinator", interactive=interactive)
    except InputError:
        action = None
    assert isinstance(action, Back) is back


def test_patient_error_sentences_cover_contract_problems():
    from triage.core.interview import patient_error

    assert patient_error("'2026-12' is after the assessment date 2026-11-24") == "future"
    assert patient_error("'2025-02-30' is not a real calendar date") == "not_real_date"
    assert patient_error("11 is outside 0 to 10") == "whole_number"
    assert patient_error("something new") is None


@pytest.mark.parametrize("typed, order, expected", [
    ("6/10/2024", "MDY", "2024-06-10"),
    ("6/10/2024", "DMY", "2024-10-06"),
    ("10.6.2024", "DMY", "2024-06-10"),
    ("06/2024", "DMY", "2024-06"),
    ("2024-06-10", "DMY", "2024-06-10"),
])
def test_date_order_is_a_setting(typed, order, expected):
    assert read_typed_date(typed, partial=True, date_order=order) == expected


@pytest.mark.parametrize("typed, action", [("<", Back()), ("b", Back()), ("?", Help()), (" ? ", Help())])
def test_navigation_keys(typed, action):
    assert interpret(Q.item("veteran"), typed, mode="patient") == action


def test_enter_keeps_the_current_answer_or_takes_the_default():
    veteran = Q.item("veteran")
    assert interpret(veteran, "", mode="coordinator", current="no") == Answer("no")
    with pytest.raises(InputError):
        interpret(veteran, "", mode="coordinator")
    assert interpret(Q.item("assessment_date"), "", mode="coordinator", default="2026-11-24") == Answer("2026-11-24")
    assert interpret(Q.item("patient_id"), "", mode="coordinator") == Answer(None)


def _interview(mode="coordinator", answers=None):
    return Interview(Q, mode, today=TODAY, answers=answers)


def test_progress_total_never_grows_as_the_patient_answers():
    interview = _interview("patient")
    assert interview.progress() == (1, 28)  # the MRI and VA questions may still be asked: counted from the start
    interview.answer(Q.item("fusion_date"), "2024-06")
    assert interview.progress() == (2, 28)
    interview.go_to("mri_available")
    interview.answer(Q.item("mri_available"), "yes")
    assert interview.current.id == "mri_date"
    assert interview.progress() == (5, 28)  # no jump up (it was 17 then 19 before)
    interview.answer(Q.item("mri_available"), "no")
    assert interview.progress()[1] == 26  # it may shrink when questions become unnecessary


def test_the_va_questions_are_asked_only_when_veteran_is_yes():
    va = ["va_enrolled", "va_drive_time_over_standard", "va_wait_over_standard", "va_no_full_service_facility",
          "va_referral"]
    for veteran, asked in (("yes", True), ("no", False), ("unknown", False), (None, False)):
        answers = {} if veteran is None else {"veteran": veteran}
        ids = [item.id for item in _interview("patient", answers).asked()]
        assert all((q in ids) == asked for q in va), veteran
    interview = _interview(answers={"veteran": "yes", "va_enrolled": "yes", "va_referral": "no"})
    outcome = interview.answer(Q.item("veteran"), "no")
    assert [item.id for item in outcome.hidden] == ["va_enrolled", "va_referral"]  # no longer asked
    assert not any(key.startswith("va_") for key in interview.final_answers())  # nor saved, assessed or recorded


def test_a_typed_range_of_levels_is_expanded_and_a_reversed_one_is_explained():
    interview = _interview()
    item = Q.item("fused_levels")
    assert interpret(item, "L4-S1", mode="coordinator").value == ["L4-L5", "L5-S1"]
    assert interpret(item, "L2-4 L5-S1", mode="coordinator").value == ["L2-L3", "L3-L4", "L5-S1"]
    with pytest.raises(InputError, match="reversed range: put the upper vertebra first \\(L4-S1\\)"):
        interpret(item, "S1-L4", mode="coordinator")


def test_patients_are_not_asked_coordinator_items():
    ids = [item.id for item in _interview("patient").asked()]
    assert "patient_id" not in ids and "assessment_date" not in ids
    assert [item.id for item in _interview("coordinator").asked()][:2] == ["patient_id", "assessment_date"]


def test_answers_skip_logic_hides_are_kept_until_the_end_and_come_back():
    interview = _interview(answers={"mri_available": "yes", "mri_date": "2026-01", "annular_tear_levels": ["L3-L4"]})
    numbers = {item.id: number for number, item, _ in interview.review()}
    outcome = interview.answer(Q.item("mri_available"), "no")
    assert [item.id for item in outcome.hidden] == ["mri_date", "annular_tear_levels"]
    assert interview.final_answers() == {"mri_available": "no"}  # what is saved, assessed and recorded
    assert interview.answers["mri_date"] == "2026-01"  # kept while the intake goes on
    after = {item.id: number for number, item, _ in interview.review()}
    # numbered as asked (the progress's numbers): the questions after the two hidden ones move up two
    assert after == {key: number - 2 if number > numbers["annular_tear_levels"] else number
                     for key, number in numbers.items() if key in after}
    assert sorted(after.values()) == list(range(1, len(after) + 1))
    outcome = interview.answer(Q.item("mri_available"), "yes")
    assert [item.id for item in outcome.revealed] == ["mri_date", "annular_tear_levels"]
    assert interview.final_answers()["annular_tear_levels"] == ["L3-L4"]  # the change undone: back again
    assert interview.current.id == "mri_date"


def test_resumed_answers_hidden_by_skip_logic_are_not_saved_again():
    interview = _interview(answers={"mri_available": "no", "mri_date": "2026-01"})
    assert [item.id for item in interview.hidden()] == ["mri_date"]
    assert "mri_date" not in interview.final_answers()


def test_warnings_for_answers_to_check():
    interview = _interview(answers={"fusion_date": "2024-06", "mri_available": "yes"})
    interview.answer(Q.item("mri_date"), "2024-03")
    assert interview.warnings(Q.item("mri_date")) == [("mri_before_fusion", "2024-03")]
    interview.answer(Q.item("mri_date"), "2024-06")
    assert interview.warnings(Q.item("mri_date")) == []  # the same month may be after it
    interview.answer(Q.item("assessment_date"), "2027-01-05")
    assert interview.warnings(Q.item("assessment_date")) == [("date_in_future", "2027-01-05")]


def test_answers_are_stored_in_canonical_form():
    interview = _interview()
    interview.answer(Q.item("fused_levels"), ["L5-S1", "l4-5"])
    assert interview.answers["fused_levels"] == ["L4-L5", "L5-S1"]


@pytest.mark.parametrize("question, value, reason", [
    ("fusion_date", "2025-02-30", "'2025-02-30' is not a real calendar date"),
    ("fusion_date", "2027-01", "after the assessment date"),
    ("pain_score", 11, "outside 0 to 10"),
    ("fusion_date", "0224-01", "check the year"),
])
def test_one_answer_is_checked_by_the_answers_contract(question, value, reason):
    interview = _interview(answers={"assessment_date": "2026-11-24"})
    item = Q.item(question)
    with pytest.raises(InvalidInput) as error:
        interview.answer(item, value)
    assert any(reason in line for line in problem_lines(error.value, item, Q))
    assert question not in interview.answers  # nothing invalid is kept


def test_a_problem_caused_in_another_answer_names_that_question():
    interview = _interview(answers={"assessment_date": "2026-11-24", "fusion_date": "2026-10"})
    item = Q.item("assessment_date")
    with pytest.raises(InvalidInput) as error:
        interview.answer(item, "2026-09-01")
    assert problem_lines(error.value, item, Q) == ["Fusion date: 2026-10 is after the assessment date 2026-09-01"]


def test_bad_resumed_answers_are_refused():
    with pytest.raises(InvalidInput) as error:
        _interview(answers={"fusion_date": "2025-02-30", "mri_availble": "yes"})
    assert {problem.where for problem in error.value.problems} == {"fusion_date", "mri_availble"}


def test_red_flag_outcome_only_when_a_red_flag_becomes_yes():
    interview = _interview()
    flag = Q.item("red_flag_saddle_numbness")
    assert interview.answer(flag, "unknown").red_flag is False
    assert interview.answer(flag, "yes").red_flag is True
    assert interview.answer(flag, "yes").red_flag is False  # kept, not new
    assert interview.answer(Q.item("veteran"), "yes").red_flag is False


def test_back_review_and_resume_position():
    interview = _interview(answers={"patient_id": "P-1", "assessment_date": "2026-11-24"})
    assert interview.current.id == "fusion_date"  # resume: the first asked question without an answer
    assert interview.back() and interview.current.id == "assessment_date"
    interview.position = 0
    assert interview.back() is False
    interview.to_review()
    assert interview.current is None  # at the review
    rows = interview.review()
    assert rows[0][0] == 1 and rows[0][1].id == "patient_id" and rows[0][2] == "P-1"
    assert rows[2][2] is None


def test_resume_continues_after_the_last_answer_not_at_a_question_left_empty():
    interview = _interview(answers={"assessment_date": "2026-11-24", "fusion_date": "2024-01"})
    assert interview.current.id == "fused_levels"  # no patient reference was typed: not asked again
    assert _interview(answers={}).current.id == "patient_id"
    everything = _interview("patient", answers={"assessment_date": "2026-11-24", "veteran": "no"})
    assert everything.current is None  # at the review


def test_unanswered_by_choice_counts_as_passed_not_as_an_answer():
    interview = _interview("patient", answers={"assessment_date": "2026-11-24"})
    interview.go_to("pain_score")
    interview.answer(Q.item("pain_score"), None)  # "I don't know" on a question without "unknown"
    assert "pain_score" not in interview.answers
    assert interview.current.id == "hardware_problem_known"


@pytest.mark.parametrize("question, value, mode, shown", [
    ("fusion_date", "2024-06", "patient", "June 2024"),
    ("fusion_date", "2024-06-10", "patient", "June 10, 2024"),
    ("fusion_date", "2024-06-10", "coordinator", "2024-06-10"),
    ("fusion_date", "unknown", "patient", "I don't know"),
    ("veteran", "yes", "patient", "Yes"),
    ("veteran", None, "patient", "Not answered"),
    ("veteran", None, "coordinator", "not answered"),
    ("veteran", "yes", "coordinator", "yes"),
    ("fused_levels", ["L4-L5", "L5-S1"], "coordinator", "L4-L5, L5-S1"),
    ("fused_levels", ["L4-L5", "L5-S1"], "patient", "L4-L5, L5-S1"),
    ("fused_levels", "unknown", "coordinator", "unknown"),
    ("pain_score", 7, "patient", "7"),
    ("pain_location", "back_and_leg", "coordinator", "back+leg"),
    ("pain_location", "back_and_leg", "patient", "In my back and my leg or buttock"),
    ("pain_quality", ["aching", "burning"], "coordinator", "aching, burning"),
    ("annular_tear_levels", [], "patient", "None"),
    ("annular_tear_levels", ["L3-L4"], "coordinator", "L3-L4"),
])
def test_answers_are_shown_in_the_reader_s_words(question, value, mode, shown):
    """One function turns an answer into text, for every channel (intake, show, exports)."""
    assert Q.answer_text(question, value, audience=mode) == shown


def test_date_order_setting_is_checked_and_left_out_of_results(tmp_path):
    from triage.core.errors import DefinitionError
    from triage.core.settings import load_settings

    good = tmp_path / "dmy.toml"
    good.write_text('date_order = "DMY"\n', encoding="utf-8")
    settings = load_settings(good)
    assert settings.date_order == "DMY" and "date_order" not in settings.model_dump()  # changes no result
    bad = tmp_path / "bad.toml"
    bad.write_text('date_order = "YMD"\n', encoding="utf-8")
    with pytest.raises(DefinitionError, match="date_order"):
        load_settings(bad)
