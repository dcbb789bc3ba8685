"""The golden patient-safe summaries of `triage intake --mode patient`: which cases, and how each is
rendered (80 columns). Shared by tests/test_patient_summary.py and `python tests/regen.py intake`,
which writes tests/data/golden/intake/<case>.txt; never edit the golden files by hand.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date

from support import DATA, ROOT

GOLDEN = DATA / "golden" / "intake"
TODAY = date(2026, 11, 24)  # fixed, so the goldens do not change with the calendar


def _example(name: str) -> dict:
    return json.loads((ROOT / "examples" / name).read_text(encoding="utf-8"))


def _scenario(name: str) -> dict:
    return tomllib.loads((DATA / "scenarios" / "valid" / name).read_text(encoding="utf-8"))["answers"]


# case name -> (answers, stopped early after a red flag?)
CASES = {
    "adjacent-tear": (lambda: _example("adjacent-tear.json"), False),
    "records-missing": (lambda: _example("records-missing.json"), False),
    "red-flag": (lambda: _example("red-flag.json"), False),
    "nothing-to-bring": (lambda: _scenario("complete-ready-for-evaluation.toml"), False),
    "stopped-after-red-flag": (lambda: {"assessment_date": "2026-11-24", "fusion_date": "2024-06",
                                        "red_flag_saddle_numbness": "yes"}, True),
    "nothing-answered": (lambda: {}, False),
    # One per red-flag tier: the patient reads the instruction of the most urgent tier answered yes.
    "red-flag-same-day": (lambda: {**_scenario("mixed-same-day-and-soon-same-day-wins.toml")}, False),
    "red-flag-soon": (lambda: {**_scenario("red-flag-immunosuppression-alone-soon.toml")}, False),
    "red-flag-mixed-emergency-wins": (lambda: {**_scenario("mixed-all-three-tiers-emergency-wins.toml")}, False),
    "veteran-bring-va-referral": (lambda: _scenario("veteran-va-all-criteria-enrolled-with-referral.toml"), False),
}


def render(name: str, width: int = 80) -> str:
    from triage.answers import parse_answers
    from triage.assess import assess
    from triage.patient_summary import patient_summary, render_patient_summary
    from triage.questionnaire import load_questionnaire
    from triage.ruleset import load_ruleset
    from triage.settings import load_settings

    make, stopped = CASES[name]
    ruleset, settings = load_ruleset(), load_settings()
    result = assess(parse_answers(make(), today=TODAY), ruleset, settings)
    summary = patient_summary(result, ruleset, settings, stopped_early=stopped)
    return render_patient_summary(summary, load_questionnaire(), width=width)
