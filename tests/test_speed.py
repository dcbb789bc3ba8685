"""The fast paths of issue 'Speed' change no byte of any result."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import ROOT
from triage import batch
from triage.answers import parse_answers
from triage.assess import assess, assess_json
from triage.facts import derive
from triage.ruleset import load_ruleset
from triage.settings import load_settings

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402

RULESET = load_ruleset()
SETTINGS = load_settings()
LINES = list(generate.lines(600, seed=29, broken_every=0))


@pytest.mark.parametrize("chunk", range(3))
def test_the_json_path_gives_the_bytes_of_the_validated_model(chunk):
    """``assess_json`` (batch's path: plain data, no models) = ``assess(...).model_dump_json()``."""
    statuses = set()
    for line in LINES[chunk::3]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        fast = assess_json(answers, RULESET, SETTINGS)
        assert fast == assess(answers, RULESET, SETTINGS).model_dump_json()
        statuses.add(json.loads(fast)["status"])
    assert statuses == {"urgent", "too_early", "records_needed", "ready_for_evaluation"}


def test_a_batch_record_is_the_assess_result_with_line_and_patient_id():
    config = batch.BatchConfig(RULESET, SETTINGS, generate.ASSESSMENT_DATE)
    for number, line in enumerate(LINES[:60], 1):
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        outcome, record = batch.triage_line(number, line.encode(), config)
        expected = {"line": number, "patient_id": answers.patient_id, **assess(answers, RULESET, SETTINGS).to_json()}
        assert record == json.dumps(expected, ensure_ascii=False, separators=(",", ":"))
        assert outcome == expected["status"]


def test_answers_are_put_in_words_only_when_a_text_asks():
    answers = parse_answers({"fused_levels": ["L4-L5", "L5-S1"], "pain_score": 7}, today=generate.ASSESSMENT_DATE)
    values = derive(answers, SETTINGS).text_values
    assert "fused_levels" not in dict(values)  # nothing formatted yet
    assert values["fused_levels"] == "L4-L5, L5-S1" and values["mri_date"] == "not answered"
    assert values["pain_score"] == "7"
    with pytest.raises(KeyError):
        values["no_such_placeholder"]
    more = values.with_values(levels="L3-L4")
    assert more["levels"] == "L3-L4" and more["veteran"] == "not answered" and "levels" not in values


def test_one_answer_as_json_is_what_answered_gives():
    for line in LINES[:200]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        given = answers.answered()
        from triage.answers import QUESTION_IDS

        assert {q: answers.as_json(q) for q in QUESTION_IDS if answers.as_json(q) is not None} == given
        assert all(answers.as_json(q) is None for q in QUESTION_IDS if q not in given)
