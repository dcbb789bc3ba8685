"""The batch's kept JSON templates (triage/decision/batch_json.py) give the bytes of the plain result builder
(triage/decision/result_builder.py) serialised whole: for every scenario, for a large generated set, under
other clinic settings, and when what is kept is bounded or dropped."""

from __future__ import annotations

import json
import sys
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic_core import to_json

from conftest import ROOT
from support import batch_sample
from support.strategies import answers as raw_answers, answers_with_records
from triage.channels import batch
from triage.decision import batch_json
from triage.core.answers import parse_answers
from triage.decision.assess import assess, assess_data, checked_fire
from triage.decision.batch_json import assess_json, assess_record
from triage.core.facts import derive
from triage.decision.result_builder import build_result
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402

RULESET = load_ruleset()
SETTINGS = load_settings()
LINES = list(generate.lines(600, seed=29, broken_every=0))
SCENARIOS = sorted((Path(__file__).parents[1] / "data" / "scenarios" / "valid").glob("*.toml"))
TODAY = date(2026, 11, 24)


def plain_bytes(answers, ruleset=RULESET, settings=SETTINGS) -> bytes:
    """The plain builder's result for these answers, serialised whole (the engine's checked rules)."""
    derived = derive(answers, settings)
    fired = [ruleset.rule(rule_id) for rule_id in checked_fire(ruleset, derived.fact)]
    return to_json(build_result(answers, derived, fired, ruleset, settings))


def same_bytes_every_way(answers, settings=SETTINGS) -> str:
    """The kept templates' JSON = the plain builder's = assess_data's = the validated model's."""
    plain = plain_bytes(answers, settings=settings)
    status, kept = assess_record(answers, RULESET, settings)
    assert kept.encode() == plain
    assert to_json(assess_data(answers, RULESET, settings)) == plain
    assert assess(answers, RULESET, settings).model_dump_json().encode() == plain
    assert json.loads(kept)["status"] == status
    return status


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_scenario_gives_the_plain_builders_bytes(path):
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    answers = parse_answers(case["answers"], today=TODAY)
    assert same_bytes_every_way(answers) == case["expected"]["status"]
    # A second time: now from the templates the first line kept.
    assert assess_json(answers, RULESET, SETTINGS).encode() == plain_bytes(answers)


def test_the_scenarios_are_there():
    assert len(SCENARIOS) >= 20


def test_five_thousand_generated_lines_give_the_plain_builders_bytes():
    """Every status, a few thousand combinations of fired rules: most lines are filled in from templates
    kept by earlier lines, which is the case the check at template making does not see."""
    statuses = set()
    for line in generate.lines(5000, seed=31, broken_every=0):
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        kept = assess_json(answers, RULESET, SETTINGS)
        assert kept.encode() == plain_bytes(answers), line
        statuses.add(json.loads(kept)["status"])
    assert statuses == {"urgent", "too_early", "records_needed", "ready_for_evaluation"}
    assert len(batch_json._kept(RULESET, SETTINGS).heads) > 50  # many heads, each used again


@hypothesis_settings(max_examples=1500, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(raw_answers(), answers_with_records()))
def test_generated_answers_of_every_form_give_the_plain_builders_bytes(raw):
    """Answers as people write them (shorthand levels, month-only dates, unknowns, absent keys), with
    what the earlier examples kept still kept."""
    answers = parse_answers(raw, today=TODAY)
    assert assess_json(answers, RULESET, SETTINGS).encode() == plain_bytes(answers)




@pytest.fixture
def fresh_kept(monkeypatch):
    """Nothing kept from other tests: each test makes its own heads, entries and texts."""
    monkeypatch.setattr(batch_json, "_kept_by_definitions", {})


def test_batch_records_of_the_sample_are_those_of_the_code_before_the_fast_paths(fresh_kept):
    """1,200 generated lines (a dozen broken), under the shipped settings and under clinic settings that
    change every interval and word: each record has the digest the code before the fast paths gave."""
    expected = {}
    for row in batch_sample.DIGESTS.read_text(encoding="utf-8").splitlines():
        name, number, digest = row.split()
        expected[(name, int(number))] = digest
    made = batch_sample.records()
    assert len(made) == len(expected) == 2 * batch_sample.LINES
    differing = [(name, number, record) for name, number, record in made
                 if batch_sample.digest(record) != expected[(name, number)]]
    assert not differing, f"{len(differing)} records changed; the first: {differing[0]}"


def test_clinic_settings_give_the_bytes_of_the_validated_model(fresh_kept):
    settings = batch_sample.configurations()["clinic"].settings
    for line in LINES[:150]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        assert assess_json(answers, RULESET, settings) == assess(answers, RULESET, settings).model_dump_json()
        assert assess_json(answers, RULESET, settings).encode() == plain_bytes(answers, settings=settings)


def test_results_under_two_settings_never_share_what_was_kept(fresh_kept):
    other = SETTINGS.model_copy(update={"clinic_name": "Northside Spine", "healing_window_months": 3})
    assert other.fingerprint != SETTINGS.fingerprint and other.text_data["clinic_name"] == "Northside Spine"
    for line in LINES[:40]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        for settings in (SETTINGS, other, SETTINGS):
            assert assess_json(answers, RULESET, settings) == assess(answers, RULESET, settings).model_dump_json()


def test_texts_and_entries_that_vary_too_much_are_filled_in_on_every_line(fresh_kept, monkeypatch):
    """A text, trace entry or answer seen with more values than MAX_FILLED is no longer kept; results
    do not change."""
    monkeypatch.setattr(batch_json, "MAX_FILLED", 2)
    for line in LINES[:120]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        assert assess_json(answers, RULESET, SETTINGS) == assess(answers, RULESET, SETTINGS).model_dump_json()
    kept = batch_json._kept(RULESET, SETTINGS)
    assert any(rule.filled is None for rule in kept.rules.values())
    assert all(len(known) <= 2 for known in kept._answer_json.values())


def test_kept_json_is_bounded(fresh_kept, monkeypatch):
    monkeypatch.setattr(batch_json, "MAX_KEPT", 3)
    for line in LINES[:60]:
        answers = parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE)
        assert assess_json(answers, RULESET, SETTINGS) == assess(answers, RULESET, SETTINGS).model_dump_json()
    kept = batch_json._kept(RULESET, SETTINGS)
    assert len(kept.heads) <= 3 and all(len(rule.templates) <= 3 for rule in kept.rules.values())


def test_a_kept_template_that_would_give_other_bytes_is_refused(fresh_kept, monkeypatch):
    """The line that makes a head or trace entry compares its JSON with the whole result serialised;
    a difference is a bug: the line fails (an `internal` record in a batch) and nothing is kept."""
    real = batch_json._Template.__init__

    def wrong_title(self, shape, settings):
        real(self, shape, settings)
        self._pieces = [piece.replace(b"Current MRI and prior", b"An MRI and prior") for piece in self._pieces]

    monkeypatch.setattr(batch_json._Template, "__init__", wrong_title)
    answers = parse_answers(json.loads(LINES[0]), today=generate.ASSESSMENT_DATE)
    with pytest.raises(AssertionError, match="differs from the result's data"):
        assess_json(answers, RULESET, SETTINGS)
    assert not batch_json._kept(RULESET, SETTINGS).heads
    config = batch.BatchConfig(RULESET, SETTINGS, generate.ASSESSMENT_DATE)
    outcome, record = batch.triage_line(1, LINES[0].encode(), config)
    assert outcome == batch.INTERNAL and "differs from the result's data" in record


def test_a_rule_text_naming_only_clinic_settings_is_put_in_words_once():
    template = batch_json._Template({"text": batch_json._Words("Call {emergency_number} now, {clinic_name}."),
                                        "own": batch_json._Words("Fusion {fusion_date}.")}, SETTINGS)
    assert [hole.key for hole in template.holes] == ["Fusion {fusion_date}."]
    assert f"Call {SETTINGS.emergency_number} now".encode() in template._pieces[0]


