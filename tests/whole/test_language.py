"""Wording: no diagnostic or directive phrasing anywhere a person can read, and plain language for
patients.

- Every user-facing string of the definitions (rules/*.toml, questionnaires/*.toml) and every string
  constant of the renderers and the CLI is scanned against tests/data/language/forbidden.txt.
  (Every generated result, in every format, is scanned by tests/decision/test_properties.py.)
- What a patient reads (questionnaire in patient wording, records to bring, emergency instructions) is
  kept at a plain reading level: Flesch-Kincaid grade <= 8 per string of four words or more; shorter
  strings (option texts, titles) are too short for a grade, so each of their words must be at most
  three syllables.
"""

from __future__ import annotations

import statistics
import tomllib

import pytest

from conftest import ROOT
from triage.core.questionnaire import load_questionnaire
from triage.core.ruleset import load_ruleset
from triage.channels.web.messages import load_messages
from support.wording import code_strings, definition_strings, forbidden_in, grade, patient_strings, syllables, words

RULESET = load_ruleset()
QUESTIONNAIRE = load_questionnaire()
MAX_GRADE = 8.0
CODE = [path for folder in ("render", "cli") for path in sorted((ROOT / "triage" / "channels" / folder).glob("*.py"))
        if path.name != "__init__.py"]


def test_no_forbidden_phrasing_in_any_definition_string():
    strings = definition_strings(RULESET, QUESTIONNAIRE)
    assert len(strings) > 150  # every rule, item and message was collected
    hits = [(where, forbidden_in(text), text) for where, text in strings if forbidden_in(text)]
    assert not hits, "\n".join(f"{where}: {phrase!r} in {text!r}" for where, phrase, text in hits)


@pytest.mark.parametrize("path", CODE, ids=lambda p: p.name)
def test_no_forbidden_phrasing_in_renderer_and_cli_strings(path):
    strings = code_strings(path)
    assert strings
    hits = [(where, forbidden_in(text), text) for where, text in strings if forbidden_in(text)]
    assert not hits, "\n".join(f"{where}: {phrase!r} in {text!r}" for where, phrase, text in hits)


@pytest.mark.parametrize("text", [
    "Based on your answers you have an annular tear.",
    "Diagnosis: adjacent segment disease.",
    "Your pain is caused by the screws.",
    "You need surgery at L3-L4.",
    "You must have a revision.",
    "We recommend revision fusion.",
    "The MRI shows that you have a tear.",
    "Findings consistent with nerve damage.",
    "Nothing serious was found.",
    "The doctor will prescribe pain medication.",
    "You should undergo an injection.",
])
def test_the_scan_catches_diagnostic_and_directive_phrasing(text):
    assert forbidden_in(text)


@pytest.mark.parametrize("text", [
    "Educational decision support only. This summary is not a diagnosis and does not replace medical advice.",
    "Do you have new numbness around your groin, buttocks or inner thighs?",
    "Topic for the physician: whether regenerative care (intra-annular fibrin) should be evaluated.",
    "A physician consult is recommended.",
])
def test_the_scan_lets_questions_topics_and_the_disclaimer_through(text):
    assert forbidden_in(text) is None


READING_EXCEPTIONS = tomllib.loads((ROOT / "tests" / "data" / "language" / "reading-exceptions.toml")
                                   .read_text(encoding="utf-8"))["en"]


def test_patient_text_is_at_a_plain_reading_level():
    """Every English patient text (questionnaire, terminal, rules' patient messages and the web pages'
    own texts) of four words or more at grade 8 or below, or listed with its reason in
    tests/data/language/reading-exceptions.toml (and the list holds only texts that need it)."""
    strings = patient_strings(RULESET, QUESTIONNAIRE)
    strings += [(f"web.{key}", text) for key, text in load_messages().messages.items()]
    assert len(strings) > 150
    graded = [(grade(text), where, text) for where, text in strings if len(words(text)) >= 4]
    too_hard = [(round(g, 1), where, text) for g, where, text in graded if g > MAX_GRADE and where not in READING_EXCEPTIONS]
    assert not too_hard, "\n".join(f"grade {g} > {MAX_GRADE}: {where}: {text!r}" for g, where, text in too_hard)
    needless = [key for key in READING_EXCEPTIONS if key not in {w for g, w, _ in graded if g > MAX_GRADE}]
    assert not needless, f"listed in reading-exceptions.toml but plain enough (or gone): {needless}"
    short = [(where, word) for where, text in strings if len(words(text)) < 4
             for word in words(text) if syllables(word) > 3]
    assert not short, short
    # The distribution, shown with -rP: pytest prints it when someone asks how plain the text is.
    grades = sorted(g for g, _, _ in graded)
    print(f"patient strings graded: {len(grades)}; median {statistics.median(grades):.1f}; "
          f"max {grades[-1]:.1f}; over 6: {sum(g > 6 for g in grades)}")


@pytest.mark.parametrize("word, count", [
    ("pain", 1), ("surgery", 3), ("fusion", 2), ("operative", 4), ("used", 1), ("fused", 1),
    ("numbness", 2), ("table", 2), ("consultation", 4), ("MRI", 1), ("2024", 1),
])
def test_syllable_heuristic(word, count):
    assert syllables(word) == count


def test_reading_grade_separates_plain_from_hard_text():
    assert grade("Where is your pain now?") < 2
    assert grade("Intraoperative documentation substantiating instrumentation characteristics is "
                 "necessary preceding consultation.") > 16
