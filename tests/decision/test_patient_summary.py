"""The patient-safe summary: golden renderings, and a property over generated answers that nothing
meant for coordinators or clinicians ever reaches a patient."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from support.intake_golden import CASES, GOLDEN, render
from triage.core.answers import CHOICES, KINDS, RED_FLAGS, parse_answers
from triage.decision.assess import assess
from triage.decision.patient_summary import patient_summary, red_flag_instructions, render_patient_summary
from triage.core.questionnaire import load_questionnaire
from triage.channels.render.labels import BANNERS, STEP_MARKS
from triage.core.result_values import Status, StepStatus
from triage.core.ruleset import load_ruleset
from triage.core.segments import SEGMENTS
from triage.core.settings import load_settings

Q, RULESET, SETTINGS = load_questionnaire(), load_ruleset(), load_settings()
TODAY = date(2026, 11, 24)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_patient_summary(name):
    expected = (GOLDEN / f"{name}.txt").read_text(encoding="utf-8")
    assert render(name) == expected, f"regenerate with: python tests/regen.py intake ({name})"


def _fragments(template: str) -> list[str]:
    """The fixed words of a template (around its {placeholders}) that are long enough to be telling."""
    return [part.strip() for part in re.split(r"\{[^}]*\}", template) if len(part.strip()) >= 12]


# Words and texts for coordinators and clinicians only (PRODUCT.md: patients never see them).
FORBIDDEN = sorted({
    *(fragment for point in RULESET.discussion_points.values() for fragment in _fragments(point.text)),
    *(step.title for step in RULESET.steps.values()),
    *(status.value for status in Status), *(status.value for status in StepStatus),
    *(banner for banner, _ in BANNERS.values()),
    *(word for _, word, _ in STEP_MARKS.values()),
    *(item.label for item in RULESET.missing_items.values()),
    *(fragment for rule in RULESET.rules for fragment in _fragments(rule.then.reason)),
    *(rule.id for rule in RULESET.rules),
    *(fragment for urgency in ("emergency", "same_day", "soon", "routine")
      for fragment in _fragments(RULESET.messages.consult(urgency))),
    "EMERGENCY", "SAME DAY", "WITHIN DAYS", "tier",
    "Topic for", "discuss", "regenerative", "stimulation", "status",
})


def _month(draw_year, draw_month):
    return f"{draw_year:04d}-{draw_month:02d}"


@st.composite
def answer_sets(draw):
    """Valid answers objects: any subset of questions, each with any value the contract allows."""
    answers = {"assessment_date": TODAY.isoformat()}
    for question, kind in KINDS.items():
        if question in ("assessment_date", "patient_id") or not draw(st.booleans()):
            continue
        if kind == "yes_no_unknown":
            value = draw(st.sampled_from(["yes", "no", "unknown"]))
        elif kind == "partial_date":
            year = draw(st.integers(2015, 2026))
            month = draw(st.integers(1, 11 if year == 2026 else 12))
            value = draw(st.sampled_from([_month(year, month), f"{_month(year, month)}-01", "unknown"]))
        elif kind == "segments":
            value = draw(st.one_of(st.just("unknown"), st.lists(st.sampled_from(SEGMENTS), unique=True, max_size=3)))
        elif kind == "choice":
            value = draw(st.sampled_from(CHOICES[question]))
        elif kind == "multi_choice":
            value = draw(st.lists(st.sampled_from(CHOICES[question]), unique=True, max_size=4))
        else:
            value = draw(st.integers(0, 10))
        answers[question] = value
    return answers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers=answer_sets(), stopped=st.booleans(), width=st.sampled_from([40, 80, 100]))
def test_patient_summary_never_shows_coordinator_content(answers, stopped, width):
    result = assess(parse_answers(answers, today=TODAY), RULESET, SETTINGS)
    text = render_patient_summary(patient_summary(result, RULESET, SETTINGS, stopped_early=stopped), Q, width=width)
    unboxed = [unframe(line) for line in text.splitlines()]
    flat = " ".join(" ".join(unboxed).split())  # undo wrapping and the emergency box
    tiers = {RULESET.red_flag_tier(flag) for flag in RED_FLAGS if answers.get(flag) == "yes"}
    highest = next((tier for tier in ("emergency", "same_day", "soon") if tier in tiers), None)
    rest = flat
    for tier in ("emergency", "same_day", "soon"):  # exactly the most urgent tier's instruction
        instruction = " ".join(red_flag_instructions(tier, RULESET, SETTINGS).split())
        assert (instruction in flat) == (tier == highest), (tier, highest)
        rest = rest.replace(instruction, "")  # the instruction itself may say "emergency department"
    for forbidden in FORBIDDEN:
        assert forbidden.lower() not in rest.lower(), forbidden
    # ... and it always has what a patient needs.
    assert " ".join(Q.questionnaire.patient_outro.split()) in flat
    for item in result.missing_items:
        assert " ".join(RULESET.missing_items[item.id].to_bring.split()) in flat
    assert all(len(line) <= max(40, width) for line in text.splitlines())


def unframe(line: str) -> str:
    """A line of the framed instruction without its side lines; a border line without its lines."""
    return line.strip("|\u2503").strip() if line[:1] in "|\u2503" else line.strip("+-\u2501\u250f\u2513\u2517\u251b")


def _summary(answers: dict) -> str:
    result = assess(parse_answers({"assessment_date": TODAY.isoformat(), **answers}, today=TODAY), RULESET, SETTINGS)
    text = render_patient_summary(patient_summary(result, RULESET, SETTINGS), Q, width=100)
    unboxed = [unframe(line) for line in text.splitlines()]
    return " ".join(" ".join(unboxed).split())


@pytest.mark.parametrize("flag", [f for f in RED_FLAGS if RULESET.red_flag_tier(f) == "soon"])
def test_a_within_days_flag_never_sends_the_patient_to_the_emergency_department(flag):
    text = _summary({flag: "yes"}).lower()
    # This answer itself: the clinic today, reviewed within days; 911 only in the closing safety net,
    # for the emergency signs it names (review of December 2026, row 7).
    answer_part, safety_net = text.split(" but if ")
    assert "emergency" not in text and SETTINGS.emergency_number not in answer_part
    assert "within a few days" in answer_part and "today" in answer_part
    assert "passing urine" in safety_net and "numbness" in safety_net and "legs get weak" in safety_net
    assert f"call {SETTINGS.emergency_number} right away" in safety_net


@pytest.mark.parametrize("flag", [f for f in RED_FLAGS if RULESET.red_flag_tier(f) == "emergency"])
def test_an_emergency_flag_sends_the_patient_to_the_emergency_department_now(flag):
    text = _summary({flag: "yes", "red_flag_cancer_or_weight_loss": "yes"})  # mixed: the highest wins
    assert "emergency room (ER) now" in text and f"Call {SETTINGS.emergency_number}" in text
    assert "within a few days" not in text


@pytest.mark.parametrize("answers, heading", [
    ({"red_flag_bladder_bowel": "yes", "red_flag_immunosuppression": "yes"}, "Get help now:"),
    ({"red_flag_fever_or_wound": "yes"}, "Call your surgeon's office today:"),
    ({"red_flag_cancer_or_weight_loss": "yes"}, "Tell the clinic team today:"),
])
def test_the_end_box_names_the_most_urgent_tier_never_just_important(answers, heading):
    assert _box_title(answers) == heading.rstrip(":") and "Important" not in _summary(answers)


def test_a_same_day_flag_says_call_the_surgeon_today_and_the_emergency_department_only_as_fallback():
    text = _summary({"red_flag_fever_or_wound": "yes", "red_flag_immunosuppression": "yes"})
    assert "call your surgeon's office today" in text
    assert "If you cannot reach them, or if you feel very unwell, go to the nearest emergency room (ER)" in text
    assert "now" not in text.split("Call your surgeon's office today")[1].split(".")[0]



@pytest.mark.parametrize("flags, heading", [
    (["red_flag_saddle_numbness"], "Get help now"),
    (["red_flag_immunosuppression", "red_flag_saddle_numbness"], "Get help now"),  # the highest tier names it
    (["red_flag_fever_or_wound"], "Call your surgeon's office today"),
    (["red_flag_immunosuppression"], "Tell the clinic team today"),
])
def test_the_end_box_is_headed_by_what_to_do_for_its_tier_not_a_vague_word(flags, heading):
    answers = {flag: "yes" for flag in flags}
    assert _box_title(answers) == heading
    assert "Important" not in _summary(answers)


def _box_title(answers: dict, ascii_only: bool = False) -> str:
    """The title in the top border of the closing instruction's frame."""
    result = assess(parse_answers({"assessment_date": TODAY.isoformat(), **answers}, today=TODAY), RULESET, SETTINGS)
    text = render_patient_summary(patient_summary(result, RULESET, SETTINGS), Q, width=80, ascii_only=ascii_only)
    top = next(line for line in text.splitlines() if line.startswith("+-" if ascii_only else "\u250f"))
    return top.strip("+-\u2501\u250f\u2513").strip()


@pytest.mark.parametrize("ascii_only", [False, True])
def test_the_closing_instruction_has_the_live_warnings_frame(ascii_only):
    """One frame style: the live red-flag warning (rich's Panel, heavy, or ASCII2 on TERM=dumb) and
    the closing instruction draw the same borders, title in the top border, padding inside."""
    import io

    from rich import box
    from rich.console import Console
    from rich.panel import Panel
    from rich.text import Text

    from triage.decision.patient_summary import framed

    words = "Call 911 or go to the nearest emergency room now. " * 4
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(Panel(Text(words), title="Get help now", box=box.ASCII2 if ascii_only else box.HEAVY, padding=(1, 2)))
    live = console.file.getvalue().splitlines()
    assert framed("Get help now", words, 80, ascii_only=ascii_only) == live
    assert _box_title({"red_flag_saddle_numbness": "yes"}, ascii_only) == "Get help now"


@pytest.mark.parametrize("answers, asked", [
    ({"veteran": "yes", "va_referral": "yes"}, True),
    ({"veteran": "yes", "va_referral": "no"}, False),
    ({"veteran": "yes"}, False),
    ({"veteran": "no", "va_referral": "yes"}, False),  # VA answers are not used when veteran is not yes
])
def test_a_veteran_with_a_va_referral_is_asked_to_bring_it(answers, asked):
    assert (RULESET.messages.bring_va_referral in _summary(answers)) == asked
