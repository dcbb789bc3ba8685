"""The wording review of questionnaire 2.1.0 is answered and recorded: every row of the December 2026
review has a decision (tests/data/review/questionnaire-2.1.0.md), every changed patient text is shown
side by side (wording-2.1.0.md, regenerated, never hand-edited), the Spanish is still pending a
translator's review, and the cauda equina questions say what the NHS warning card says and cite it.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from support import DATA
from support.wording_review import BASELINE, current_texts, record_path, render
from triage.core.languages import load_translation, web_translation_path
from triage.core.questionnaire import load_definition
from triage.core.ruleset import load_ruleset
from triage.channels.web.messages import load_messages

REVIEW = DATA / "review"
ANSWERS = (REVIEW / "questionnaire-2.1.0.md").read_text(encoding="utf-8")
DEFINITION = load_definition()
RULESET = load_ruleset()
# The rows of shared/reviews/patient-wording-2026-12.md (it has no row 6).
REVIEW_ROWS = [n for n in range(1, 30) if n != 6]


def test_the_side_by_side_record_is_up_to_date():
    before = json.loads(BASELINE.read_text(encoding="utf-8"))
    after = current_texts()
    assert record_path(after).read_text(encoding="utf-8") == render(before, after), \
        "run python tests/regen.py wording and read the diff"


def test_every_row_of_the_review_has_a_decision():
    decisions = dict(re.findall(r"^\| (\d+) \| (fixed|elsewhere|answered) \|", ANSWERS, re.MULTILINE))
    assert sorted(map(int, decisions)) == REVIEW_ROWS


def test_versions_move_together_and_the_spanish_stays_pending_review():
    assert DEFINITION.questionnaire.version == "2.1.0" and RULESET.ruleset.version == "2.1.0"
    translation = load_translation("es", DEFINITION, RULESET)
    assert translation.info.questionnaire_version == DEFINITION.questionnaire.version
    assert translation.info.review_status == "pending_review"
    web = tomllib.loads(web_translation_path("es").read_text(encoding="utf-8"))["translation"]
    assert web["review_status"] == "pending_review"
    assert web["web_version"] == load_messages().web.version


# What the NHS cauda equina warning card names, in each language's words, by question.
CARD = {
    "red_flag_bladder_bowel": (["bladder", "bowels", "pads"], ["vejiga", "intestino", "toallas o pañales"]),
    "red_flag_saddle_numbness": (["numbness", "tingling", "genitals", "anus", "buttocks", "inner thighs"],
                                 ["entumecimiento", "hormigueo", "genitales", "ano", "nalgas", "muslos"]),
    "red_flag_sexual_function": (["genitals", "erection", "ejaculating"], ["genitales", "erección", "eyacular"]),
    "red_flag_both_legs": (["both of your legs"], ["las dos piernas"]),
}


@pytest.mark.parametrize("question", CARD)
def test_the_cauda_equina_questions_follow_the_nhs_card_and_cite_it(question):
    english, spanish = CARD[question]
    item = DEFINITION.item(question)
    assert item.source.startswith("NHS cauda equina syndrome warning card")
    text = f"{item.text} {item.help}"
    assert all(re.search(rf"\b{word}\b", text, re.IGNORECASE) for word in english), text
    assert "back passage" not in text  # British
    es = load_translation("es", DEFINITION, RULESET).texts
    text_es = f"{es[f'items.{question}.text']} {es[f'items.{question}.help']}"
    assert all(re.search(rf"\b{word}\b", text_es, re.IGNORECASE) for word in spanish), text_es


def test_the_rules_of_the_card_questions_cite_the_card():
    cited = {rule.reads[0]: rule.source for rule in RULESET.rules if rule.id in ("RF-01", "RF-02", "RF-07")}
    assert set(cited) == {"red_flag_bladder_bowel", "red_flag_saddle_numbness", "red_flag_sexual_function"}
    assert all(source.startswith("ces-card#") for source in cited.values())
    assert "warning card" in RULESET.sources["ces-card"].title
