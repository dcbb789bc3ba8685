"""Reusing the engine's checked decisions (triage.decision.decisions) is sound and changes no result."""

from __future__ import annotations

import json
import sys
from datetime import date

import pytest

from conftest import ROOT
from triage.decision import decisions, engine
from triage.core.answers import parse_answers
from triage.decision.assess import assess, checked_fire
from triage.core.errors import EngineError
from triage.core.facts import derive
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

RULESET = load_ruleset()
SETTINGS = load_settings()
TODAY = date(2026, 11, 24)


def _fact(answers: dict) -> dict[str, str]:
    return derive(parse_answers(answers, today=TODAY), SETTINGS).fact


@pytest.fixture
def engine_calls(monkeypatch):
    calls = []
    real = engine.fire
    monkeypatch.setattr(engine, "fire", lambda ruleset, fact: calls.append(fact) or real(ruleset, fact))
    return calls


def test_a_combination_seen_before_is_answered_from_durables_decisions(engine_calls):
    fact = _fact({"veteran": "yes"})
    first = checked_fire(RULESET, fact)
    second = checked_fire(RULESET, dict(fact))
    assert first == second and "TOPIC-02" in first
    assert len(engine_calls) == 1


def test_a_new_combination_goes_to_durable(engine_calls):
    checked_fire(RULESET, _fact({"veteran": "yes"}))
    checked_fire(RULESET, _fact({"veteran": "no"}))
    assert len(engine_calls) == 2


def test_facts_no_rule_reads_do_not_matter(engine_calls):
    """Two intakes that differ only outside every rule's facts share all decisions."""
    reads = {name for rule in RULESET.rules for name in rule.when.facts_used()}
    fact = _fact({"veteran": "yes"})
    checked_fire(RULESET, fact)
    other = {**fact, **{name: "changed" for name in fact if name not in reads}}
    assert checked_fire(RULESET, other) == checked_fire(RULESET, fact)
    assert len(engine_calls) == 1


def test_recall_false_always_asks_durable(engine_calls):
    fact = _fact({"veteran": "yes"})
    checked_fire(RULESET, fact)
    checked_fire(RULESET, fact, recall=False)
    assert len(engine_calls) == 2


def test_a_recalled_decision_is_still_checked(monkeypatch):
    fact = _fact({"veteran": "yes"})
    checked_fire(RULESET, fact)
    kept = decisions.for_ruleset(RULESET)
    index = [rule.id for rule in RULESET.rules].index("TOPIC-02")
    for key in kept._known[index]:
        kept._known[index][key] = not kept._known[index][key]  # a corrupted memory
    with pytest.raises(EngineError, match="disagree on TOPIC-02"):
        checked_fire(RULESET, fact)


def test_a_refused_evaluation_is_never_kept(monkeypatch):
    fact = _fact({"veteran": "yes"})
    real, calls = engine.fire, []
    monkeypatch.setattr(engine, "fire", lambda ruleset, f: [r for r in real(ruleset, f) if r != "TOPIC-02"])
    with pytest.raises(EngineError):
        checked_fire(RULESET, fact)
    monkeypatch.setattr(engine, "fire", lambda ruleset, f: calls.append(f) or real(ruleset, f))
    assert "TOPIC-02" in checked_fire(RULESET, fact)
    assert len(calls) == 1  # durable was asked again: nothing of the refused evaluation was kept


def test_decisions_are_kept_per_ruleset_fingerprint(engine_calls):
    data = RULESET.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["ruleset"]["title"] = "another definition"
    other = type(RULESET).model_validate(data)
    assert other.fingerprint != RULESET.fingerprint
    fact = _fact({"veteran": "yes"})
    checked_fire(RULESET, fact)
    checked_fire(other, fact)
    assert len(engine_calls) == 2


def test_results_with_and_without_kept_decisions_are_byte_identical():
    """Over generated intakes of every status: the same JSON whether decisions are recalled or not."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate

    lines = [json.loads(line) for line in generate.lines(400, seed=5, broken_every=0)]
    parsed = [parse_answers(raw, today=generate.ASSESSMENT_DATE) for raw in lines]
    fresh = []
    for answers in parsed:
        decisions.forget()
        fresh.append(assess(answers, RULESET, SETTINGS).model_dump_json())
    decisions.forget()
    recalled = [assess(answers, RULESET, SETTINGS).model_dump_json() for answers in parsed]
    assert recalled == fresh
    assert len({json.loads(r)["status"] for r in recalled}) == 4
