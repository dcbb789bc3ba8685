"""The wording checks' data and helpers: the forbidden phrasings (tests/data/language/forbidden.txt), the
user-facing strings of the definitions and renderers, and a plain reading-level measure.

Shared by tests/whole/test_language.py (every definition and template string) and
tests/decision/test_properties.py (every generated result), so there is one list of phrasings to keep.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support import DATA
from triage.core.questionnaire import Questionnaire
from triage.core.ruleset import Ruleset

HERE = DATA / "language"


def _patterns(name: str) -> list[str]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


FORBIDDEN_PATTERNS = _patterns("forbidden.txt")
FORBIDDEN = re.compile("|".join(rf"\b(?:{p})\b" for p in FORBIDDEN_PATTERNS), re.IGNORECASE)
ALLOWED = _patterns("allowed.txt")  # exact phrases taken out before the scan (the disclaimer's denial)


def forbidden_in(text: str) -> str | None:
    """The first forbidden phrasing in ``text``, or None."""
    for allowed in ALLOWED:
        text = re.sub(re.escape(allowed), " ", text, flags=re.IGNORECASE)
    match = FORBIDDEN.search(text)
    return match.group(0) if match else None


# ---------------------------------------------------------------------------------------------
# Where user-facing strings live

def definition_strings(ruleset: Ruleset, questionnaire: Questionnaire) -> list[tuple[str, str]]:
    """(where, text) for every string a coordinator, clinician or patient can be shown."""
    found: list[tuple[str, str]] = [("ruleset.title", ruleset.ruleset.title)]
    found += [(f"sources.{key}.title", source.title) for key, source in ruleset.sources.items()]
    found += [(f"steps.{key}.title", step.title) for key, step in ruleset.steps.items()]
    for key, item in ruleset.missing_items.items():
        found += [(f"missing_items.{key}.label", item.label), (f"missing_items.{key}.to_bring", item.to_bring)]
    found += [(f"discussion_points.{key}.text", point.text) for key, point in ruleset.discussion_points.items()]
    found += [(f"messages.{key}", text) for key, text in ruleset.messages.model_dump().items()]
    found += [(f"va_criteria.{key}", text) for key, text in ruleset.va_criteria.items()]
    found += [(f"va_to_do.{key}", text) for key, text in ruleset.va_to_do.items()]
    for rule in ruleset.rules:
        found += [(f"{rule.id}.title", rule.title), (f"{rule.id}.rationale", rule.rationale),
                  (f"{rule.id}.reason", rule.then.reason)]
    info = questionnaire.questionnaire
    found += [("questionnaire.title", info.title), ("questionnaire.patient_intro", info.patient_intro),
              ("questionnaire.patient_outro", info.patient_outro), ("questionnaire.unknown_text", info.unknown_text)]
    found += _patient_wording(questionnaire)
    for section in questionnaire.sections:
        found += [(f"sections.{section.id}.title", section.title),
                  (f"sections.{section.id}.patient_title", section.patient_title)]
    for item in questionnaire.items:
        found += [(f"{item.id}.label", item.label), (f"{item.id}.text", item.text), (f"{item.id}.help", item.help)]
        for option in item.options or ():
            found += [(f"{item.id}.options.{option.value}.label", option.label),
                      (f"{item.id}.options.{option.value}.text", option.text)]
    return [(where, text) for where, text in found if text]


def patient_strings(ruleset: Ruleset, questionnaire: Questionnaire) -> list[tuple[str, str]]:
    """(where, text) for what a patient reads: the questionnaire in patient wording, the records to
    bring and the red-flag instructions of every tier (PRODUCT.md: patients see nothing else)."""
    info = questionnaire.questionnaire
    found = [("questionnaire.title", info.title), ("questionnaire.patient_intro", info.patient_intro),
             ("questionnaire.patient_outro", info.patient_outro), ("questionnaire.unknown_text", info.unknown_text)]
    found += _patient_wording(questionnaire)
    found += [(f"sections.{s.id}.patient_title", s.patient_title) for s in questionnaire.sections]
    for item in questionnaire.items:
        if "patient" not in item.audience:
            continue
        found += [(f"{item.id}.text", item.text), (f"{item.id}.help", item.help)]
        found += [(f"{item.id}.options.{o.value}.text", o.text) for o in item.options or ()]
    found += [(f"missing_items.{key}.to_bring", item.to_bring) for key, item in ruleset.missing_items.items()]
    found += [(f"messages.instructions_{tier}", ruleset.messages.instructions(tier))
              for tier in ("emergency", "same_day", "soon")]
    found.append(("messages.bring_va_referral", ruleset.messages.bring_va_referral))
    return [(where, text) for where, text in found if text]


def _patient_wording(questionnaire: Questionnaire) -> list[tuple[str, str]]:
    """The interactive intake's own patient texts (prompts, review, summary), when the questionnaire
    definition has them (the intake branch adds a ``patient_wording`` table)."""
    wording = getattr(questionnaire, "patient_wording", None)
    if wording is None:
        return []
    found = []
    for key, text in wording.model_dump().items():
        if isinstance(text, dict):  # the error sentences, by kind
            found += [(f"patient_wording.{key}.{kind}", sentence) for kind, sentence in text.items()]
        elif isinstance(text, str):
            found.append((f"patient_wording.{key}", text))
    return found


def code_strings(path: Path) -> list[tuple[str, str]]:
    """(file:line, text) for string constants in a renderer or CLI module (f-string parts included),
    docstrings left out: they are for developers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        (f"{path.name}:{node.lineno}", node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


# ---------------------------------------------------------------------------------------------
# Reading level

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+")


def syllables(word: str) -> int:
    """A common English heuristic: vowel groups, minus a silent final e; at least one."""
    word = word.lower()
    if word.isdigit():
        return 1  # "2024" is read as one unit here; dates are examples, not prose
    count = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    if word.endswith("ed") and not word.endswith(("ted", "ded")) and count > 1:
        count -= 1  # "used", "fused", "asked": one syllable
    return max(count, 1)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level: 0.39 words/sentence + 11.8 syllables/word - 15.59."""
    found = words(text)
    if not found:
        return 0.0
    sentences = max(1, len(re.findall(r"[.!?]+(?:\s|$)", text.strip())) or 1)
    return 0.39 * len(found) / sentences + 11.8 * sum(map(syllables, found)) / len(found) - 15.59


# ---------------------------------------------------------------------------------------------
# Spanish reading level, with a Spanish syllable counter of our own
#
# textstat's Spanish counts came from a hyphenation dictionary and undercounted ("orina" 2, "día" 1,
# "emergencias" 3), which made the formula 3-5 points too easy. The PyPI syllabifiers were checked:
# pylabeador (GPL-3.0, beta) and silabeador (LGPL, aimed at verse) split words but bring a licence
# and a dependency for what the counting needs, which is the spelling rules of Spanish below. The
# counter is checked against hand-counted words (tests/core/test_spanish.py, SYLLABLES_ES).

_STRONG = set("aeoáéóíú")  # open vowels, and a stressed close vowel (which breaks a diphthong)
_VOWELS = set("aeiouáéíóúü")
_WORD_ES = re.compile(r"[^\W\d_]+|\d+")


def spanish_syllables(word: str) -> int:
    """Syllables of one Spanish word, by the spelling rules: each group of vowels is one syllable,
    split between two open vowels (le-er, ca-er) and beside a stressed í or ú next to an open vowel
    (dí-a, o-í-do, pa-ís); a close pair stays one (ciu-dad, cui-da-do). A final y after a vowel is a
    vowel (hoy, muy); the word "y" is one syllable. Digits and letters without a vowel count one."""
    word = word.lower()
    if word.isdigit() or not word:
        return 1
    letters = [("i" if char == "y" and (index == len(word) - 1 and index > 0 and word[index - 1] in _VOWELS
                                        or len(word) == 1) else char) for index, char in enumerate(word)]
    count, previous = 0, ""
    for char in letters:
        if char not in _VOWELS:
            previous = ""
            continue
        if not previous:
            count += 1
        elif _hiatus(previous, char):
            count += 1
        previous = char
    return max(count, 1)


def _hiatus(first: str, second: str) -> bool:
    open_first, open_second = first in "aeoáéó", second in "aeoáéó"
    if open_first and open_second:
        return True  # two open vowels: le-er, ca-er, a-é-re-o
    # a stressed close vowel beside an open one: dí-a, pa-ís, ba-úl, re-ír (not cuí-da-te, a close pair)
    return (first in "íú" and open_second) or (second in "íú" and open_first)


def spanish_words(text: str) -> list[str]:
    return _WORD_ES.findall(text)


def spanish_sentences(text: str) -> int:
    return max(1, len(re.findall(r"[.!?]+(?=\s|$)", text.strip())))


def fernandez_huerta(text: str) -> float:
    """Fernandez-Huerta as corrected (Law 2011): 206.84 - 60 x syllables/word - 1.02 x words/sentence.
    60-70 is grades 7-8 (US), 70-80 grade 6; higher is easier."""
    found = spanish_words(text)
    if not found:
        return 100.0
    per_word = sum(map(spanish_syllables, found)) / len(found)
    return 206.84 - 60 * per_word - 1.02 * len(found) / spanish_sentences(text)


def szigriszt_pazos(text: str) -> float:
    """Szigriszt-Pazos perspicuity (INFLESZ scale): 206.835 - 62.3 x syllables/word - words/sentence."""
    found = spanish_words(text)
    if not found:
        return 100.0
    per_word = sum(map(spanish_syllables, found)) / len(found)
    return 206.835 - 62.3 * per_word - len(found) / spanish_sentences(text)
