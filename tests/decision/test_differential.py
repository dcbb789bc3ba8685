"""Differential testing of the durable_rules adapter against a plain-Python reference evaluator.

The same rule definitions are evaluated twice: by ``triage.decision.engine.fire`` (compiled to durable's JSON
and run inside durable_rules) and by ``triage/decision/reference.py`` (the condition tree walked directly). Any
disagreement in the fired rule ids fails, and so does any difference between the result ``assess``
gives and the one built from the reference's fired rules.

Profiles: the default run draws ``TRIAGE_DIFF_EXAMPLES`` (default 1000) cases per generator, a few
seconds. The long profile is the same test with more cases:

    TRIAGE_DIFF_EXAMPLES=100000 python -m pytest tests/decision/test_differential.py

Every run also asserts coverage: each rule fired at least once and stayed silent at least once, so a
generator that stopped reaching a rule fails instead of passing vacuously.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.strategies import answers, answers_with_records, facts
from triage.decision import reference
from triage.decision import engine
from triage.core.answers import RED_FLAGS, parse_answers
from triage.decision.assess import assess
from triage.decision.result_builder import build_result
from triage.decision.result import Result
from triage.core.facts import FACTS, derive
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

RULESET = load_ruleset()
SETTINGS = load_settings()
TODAY = date(2026, 11, 24)
RULE_IDS = [rule.id for rule in RULESET.rules]
EXAMPLES = int(os.environ.get("TRIAGE_DIFF_EXAMPLES", "1000"))
# derandomize: the coverage assertions below must not pass or fail by the luck of the draw.
PROFILE = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Coverage:
    """Counts, per rule, how many cases fired it and how many did not."""

    def __init__(self) -> None:
        self.fired: Counter[str] = Counter()
        self.silent: Counter[str] = Counter()
        self.cases = 0

    def add(self, fired_ids: list[str]) -> None:
        self.cases += 1
        for rule_id in RULE_IDS:
            (self.fired if rule_id in fired_ids else self.silent)[rule_id] += 1

    def report(self) -> str:
        """Shown with ``-s`` or ``-rP``: how many cases ran and the least-reached rule each way."""
        rarest_fired = min(RULE_IDS, key=lambda r: self.fired[r])
        rarest_silent = min((r for r in RULE_IDS if r != "CONSULT-01"), key=lambda r: self.silent[r])
        return (f"{self.cases} cases; least fired {rarest_fired} ({self.fired[rarest_fired]}), "
                f"least silent {rarest_silent} ({self.silent[rarest_silent]})")

    def assert_every_rule_both_ways(self) -> None:
        print(self.report())
        never_fired = [r for r in RULE_IDS if not self.fired[r] and r != "CONSULT-01"]
        never_silent = [r for r in RULE_IDS if not self.silent[r] and r != "CONSULT-01"]
        assert not never_fired, f"over {self.cases} cases these rules never fired: {never_fired}"
        assert not never_silent, f"over {self.cases} cases these rules always fired: {never_silent}"
        assert self.fired["CONSULT-01"] == self.cases  # `always` is always


def agree(fact: dict[str, str]) -> list[str]:
    expected = reference.fired(RULESET, fact)
    actual = engine.fire(RULESET, fact)
    assert actual == expected, (
        f"engine and reference disagree on {fact}: only engine {sorted(set(actual) - set(expected))}, "
        f"only reference {sorted(set(expected) - set(actual))}"
    )
    return actual


def test_engine_agrees_with_the_reference_on_generated_answers():
    coverage = Coverage()

    @PROFILE
    @given(st.one_of(answers(), answers_with_records()))
    def check(raw):
        parsed = parse_answers(raw, today=TODAY)
        derived = derive(parsed, SETTINGS)
        fired_ids = agree(derived.fact)
        # The whole result, not only the ids: assess() through the engine equals the result built
        # from the reference's rules.
        expected = build_result(parsed, derived, [RULESET.rule(i) for i in fired_ids], RULESET, SETTINGS)
        assert assess(parsed, RULESET, SETTINGS).to_json() == Result.model_validate(expected).to_json()
        coverage.add(fired_ids)

    check()
    coverage.assert_every_rule_both_ways()


def test_engine_agrees_with_the_reference_on_generated_facts():
    """Facts drawn straight from the vocabulary reach corners answers rarely or never produce."""
    coverage = Coverage()

    @PROFILE
    @given(facts(_baselines()))
    def check(fact):
        coverage.add(agree(fact))

    check()
    coverage.assert_every_rule_both_ways()


def _baselines() -> list[dict[str, str]]:
    """Whole facts to vary a rule's own facts against: from no answers, and from complete ones."""
    empty = derive(parse_answers({}, today=TODAY), SETTINGS).fact
    complete = derive(parse_answers({
        "fusion_date": "2024-01-10", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
        "mri_available": "yes", "mri_date": "2026-06-01", "annular_tear_levels": ["L3-L4"],
        "pain_location": "leg", "pain_quality": ["burning"], "hardware_problem_known": "yes",
        "mechanical_symptoms": "no", "veteran": "yes",
        **{flag: "no" for flag in RED_FLAGS},
    }, today=TODAY), SETTINGS).fact
    return [empty, complete]


EXHAUSTIVE_UP_TO = 6  # facts per rule; 4^6 = 4096 combinations through the engine


def _combinations(used: list[str]):
    """Every combination of the values of the facts a rule reads, up to EXHAUSTIVE_UP_TO facts. Beyond
    that (the red-flag screen reads ten: 4^10 = 1,048,576, which tests/decision/test_exhaustive.py walks
    through the reference evaluator), every pair of facts in every pair of values, the others left
    at the baseline, and every fact set to each value at once."""
    if len(used) <= EXHAUSTIVE_UP_TO:
        yield from (dict(zip(used, values)) for values in itertools.product(*(FACTS[name].values for name in used)))
        return
    for first, second in itertools.combinations(used, 2):
        for a, b in itertools.product(FACTS[first].values, FACTS[second].values):
            yield {first: a, second: b}
    for value in set.intersection(*(set(FACTS[name].values) for name in used)):
        yield dict.fromkeys(used, value)


def test_every_value_combination_of_each_rules_facts():
    """Per rule: every combination of the values of the facts its condition reads (every pair for the
    ten-question red-flag screen), on two whole-fact baselines; all rules compared on each."""
    cases = 0
    for rule in RULESET.rules:
        used = rule.when.facts_used()
        for baseline in _baselines():
            for values in _combinations(used):
                fact = {**baseline, **values}
                fired_ids = agree(fact)
                assert (rule.id in fired_ids) == reference.holds(rule.when, fact)
                cases += 1
    assert cases > 2400  # each rule on both baselines; the screen by pairs (45 x 16 + 4)


def test_the_differential_test_can_fail(monkeypatch):
    """A wrong translation of one operator must be caught: `ne` compiled as `$eq`."""
    from triage.core.ruleset import Ruleset

    broken = RULESET.model_copy(update={"ruleset": RULESET.ruleset.model_copy(update={"title": "broken ne"})})
    original = engine.compile_condition

    def ne_as_eq(condition):
        compiled = original(condition)
        if condition.ne is not None:
            return {condition.fact: condition.ne}
        if condition.all is not None:
            return {"$and": [ne_as_eq(child) for child in condition.all]}
        if condition.any is not None:
            return {"$or": [ne_as_eq(child) for child in condition.any]}
        return compiled

    monkeypatch.setattr(engine, "compile_condition", ne_as_eq)
    assert isinstance(broken, Ruleset) and broken.fingerprint != RULESET.fingerprint
    fact = _baselines()[0]  # nothing answered: REC-03 (`surgical_report_available ne yes`) fires
    assert "REC-03" in reference.fired(broken, fact)
    assert "REC-03" not in engine.fire(broken, fact)


def test_the_compiled_evaluator_is_the_naive_walk():
    """`reference.compiled` (the conditions written out once as one function) = `reference.holds` (the
    condition tree walked), rule by rule, on every combination the differential tests use."""
    cases, written_out = 0, reference.compiled(RULESET)
    for rule in RULESET.rules:
        for baseline in _baselines():
            for values in _combinations(rule.when.facts_used()):
                fact = {**baseline, **values}
                walked = [other.id for other in RULESET.rules if reference.holds(other.when, fact)]
                assert written_out(fact) == walked
                cases += 1
    assert cases > 2400


def test_fired_walks_a_new_ruleset_then_runs_it_written_out_with_the_same_answers(monkeypatch):
    """A single `triage assess` walks the conditions (writing them out costs more than one walk);
    from the WALKS_BEFORE_WRITING_OUT-th evaluation on, the written-out function answers, the same."""
    monkeypatch.setattr(reference, "_walks", {})
    monkeypatch.setattr(reference, "_compiled", {})
    facts = [{**baseline, **values} for rule in RULESET.rules[:12] for baseline in _baselines()
             for values in _combinations(rule.when.facts_used())]
    assert len(facts) > 2 * reference.WALKS_BEFORE_WRITING_OUT
    answers = []
    for number, fact in enumerate(facts):
        assert (RULESET.fingerprint in reference._compiled) == (number > reference.WALKS_BEFORE_WRITING_OUT)
        answers.append(reference.fired(RULESET, fact))
    assert answers == [[rule.id for rule in RULESET.rules if reference.holds(rule.when, fact)] for fact in facts]
    assert len({tuple(found) for found in answers}) > 10  # the facts make different rules fire


@pytest.mark.parametrize("form", ["walked", "written out"])
def test_the_independent_evaluator_reads_absent_facts_as_an_error_in_both_forms(form, monkeypatch):
    fact = dict(_baselines()[0])
    fact.pop("mri_available")
    if form == "walked":
        monkeypatch.setattr(reference, "_walks", {})
        monkeypatch.setattr(reference, "_compiled", {})
    else:
        reference.compiled(RULESET)
    with pytest.raises(KeyError):
        reference.fired(RULESET, fact)


def test_no_text_of_a_definition_is_written_into_the_compiled_evaluator():
    """Fact names and values are referred to by index: the source holds our own words only."""
    text, names, values = reference.source(RULESET)
    assert names and values
    assert "'" not in text and '"' not in text
    assert not {word for word in names if word in text}
