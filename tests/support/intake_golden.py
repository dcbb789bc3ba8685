"""The golden patient-safe summaries of `triage intake --mode patient`: which cases, and how each is
rendered (80 columns). Shared by tests/decision/test_patient_summary.py and `python tests/regen.py intake`,
which writes tests/data/golden/intake/<case>.txt; never edit the golden files by hand.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date

from pathlib import Path

from support import DATA, ROOT
from support.cli import TRIAGE

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


LANGUAGES = ("en", "es")  # English goldens in intake/, each other language's in intake/<lang>/


def golden_path(name: str, language: str = "en") -> "Path":
    return GOLDEN / f"{name}.txt" if language == "en" else GOLDEN / language / f"{name}.txt"


def render(name: str, width: int = 80, language: str = "en") -> str:
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.core.languages import load_language
    from triage.decision.patient_summary import patient_summary, render_patient_summary
    from triage.core.questionnaire import load_definition
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    make, stopped = CASES[name]
    ruleset, settings = load_ruleset(), load_settings()
    patient = load_language(language, questionnaire=load_definition(), ruleset=ruleset, settings=settings)
    result = assess(parse_answers(make(), today=TODAY), ruleset, settings)
    summary = patient_summary(result, patient.texts, settings, stopped_early=stopped, values=patient.values)
    return render_patient_summary(summary, patient.questionnaire, width=width)


# Whole terminal intakes in a pseudo-terminal (80 x 50), as a patient sees them: name -> (language,
# the line typed at each "Your answer" prompt). Answers that depend on today's date are avoided (no
# MRI date), so the screens never change with the calendar.
TRANSCRIPTS = {
    "es-terminal-intake": ("es", [
        "?", "13/2024", "junio de 2024",  # help, a month that does not exist, a Spanish month name
        "L4-5 L5-S1", "2", "2", "3", "2 3", "<", "", "1", "7", "3", "2",  # back once, Enter keeps
        "2", "2", "2", "2", "2", "2", "2",
        "1", "c",  # fever or wound: yes (same day), then continue
        "2", "sí", "c",  # "sí" typed as a word: a second flag (within days); the same-day words stay
        "1", "1", "2", "3", "2", "1",  # veteran: yes opens the five VA questions
        "6", "1",  # at the review: change what the pain feels like (6: without an MRI its two questions went)
        "", "",  # the review's two pages at 50 rows: Enter for the rest, then Enter to finish
    ]),
}


def transcript(name: str, folder: "Path") -> tuple[str, dict]:
    """Run one whole intake in a pseudo-terminal in ``folder``: (the screen text, the answers saved)."""
    import io
    import os
    import sys

    import pexpect

    language, typed = TRANSCRIPTS[name]
    prompt = {"en": "Your answer: ", "es": "Su respuesta: "}[language]
    env = {**os.environ, "TERM": "dumb", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"}
    env.pop("TRIAGE_SETTINGS", None)
    screen = io.StringIO()
    child = pexpect.spawn(TRIAGE[0], ["intake", "--mode", "patient", "--lang", language,
                                           "-o", "visit.json"], cwd=str(folder), env=env, encoding="utf-8",
                          timeout=20, dimensions=(50, 80))
    child.logfile_read = screen
    for line in typed:
        child.expect_exact(prompt)
        child.sendline(line)
    child.expect(pexpect.EOF)
    child.close()
    if child.exitstatus != 0:
        raise AssertionError(f"intake exited {child.exitstatus}: {screen.getvalue()[-2000:]}")
    text = "\n".join(line.rstrip() for line in screen.getvalue().replace("\r\n", "\n").replace("\r", "").split("\n"))
    answers = json.loads((folder / "visit.json").read_text(encoding="utf-8"))
    answers.pop("assessment_date")  # the intake day
    return text, answers
