"""The fast paths of issue 'Speed' change no byte of any result."""

from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import ROOT
from support.cli import SCRATCH
from triage.channels import batch
from triage.core.answers import parse_answers
from triage.decision.assess import assess
from triage.decision.batch_json import assess_json
from triage.core.facts import derive
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

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
        from triage.core.answers import QUESTION_IDS

        assert {q: answers.as_json(q) for q in QUESTION_IDS if answers.as_json(q) is not None} == given
        assert all(answers.as_json(q) is None for q in QUESTION_IDS if q not in given)


def test_the_data_json_output_prints_is_the_validated_models_json():
    """`triage assess --format json` prints the result's data without building the result models."""
    from triage.decision.assess import assess_data

    for line in LINES[:200]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        assert assess_data(answers, RULESET, SETTINGS) == assess(answers, RULESET, SETTINGS).to_json()


def test_starting_a_command_builds_only_its_options_and_imports_no_definition_it_does_not_use(tmp_path):
    import subprocess

    from triage.channels.cli.main import build_parser

    assert list(build_parser(only="assess").commands.choices) == ["assess"]
    assert len(build_parser().commands.choices) > 10
    answers = tmp_path / "a.json"
    answers.write_text("{}", encoding="utf-8")
    script = ("import sys; from triage.channels.cli.main import main; code = main(['assess', sys.argv[1], '--format', 'json']); "
              "print(sorted(m for m in sys.modules if m.startswith(('triage.', 'flask', 'psycopg', 'rich'))), "
              "file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", script, str(answers)], cwd=SCRATCH, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stderr
    for unused in ("triage.core.languages", "triage.core.questionnaire", "triage.records.store", "triage.decision.result'", "triage.channels.cli.web",
                   "triage.decision.batch_json",
                   "triage.channels.cli.records", "flask", "psycopg", "rich"):
        assert f"'{unused}" not in loaded


def test_json_output_builds_no_pydantic_schema_once_the_definitions_are_kept(tmp_path):
    """Building pydantic's first schema costs ~25 ms: answers are checked by their own functions and
    the model built from them; the definitions come validated from the cache."""
    import subprocess

    answers = tmp_path / "a.json"
    answers.write_text('{"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "pain_score": 4}', encoding="utf-8")
    script = ("import sys; from triage.channels.cli.main import main; code = main(['assess', sys.argv[1], '--format', 'json']); "
              "from pydantic import BaseModel; "
              "built = [c.__name__ for c in BaseModel.__subclasses__() + [s for c in BaseModel.__subclasses__() "
              "for s in c.__subclasses__()] if c.__pydantic_complete__]; "
              "print(built, file=sys.stderr); sys.exit(code)")
    env = {**os.environ, "TRIAGE_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", script, str(answers)], cwd=SCRATCH, capture_output=True, text=True,
                           env=env) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr
    assert runs[0].stdout == runs[1].stdout
    assert "Ruleset" in runs[0].stderr  # the first run validated the files (and kept them)
    assert runs[1].stderr.strip() == "[]"
