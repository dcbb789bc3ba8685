"""The durable_rules adapter keeps the discipline the notes demand, and the pipeline fails closed."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from conftest import ROOT
from support.cli import SCRATCH
from triage.decision import engine
from triage.core.answers import parse_answers
from triage.decision.assess import assess
from triage.core.errors import EngineError
from triage.core.facts import derive
from triage.core.ruleset import Condition, load_ruleset
from triage.core.settings import load_settings

RULESET = load_ruleset()
SETTINGS = load_settings()
TODAY = date(2026, 11, 24)


def variant(rules, title: str):
    """A validated ruleset with other rules and a different title, hence a different fingerprint."""
    data = RULESET.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["ruleset"]["title"] = title
    data["rules"] = [rule.model_dump(mode="json", by_alias=True, exclude_none=True) for rule in rules]
    return type(RULESET).model_validate(data)


def test_a_changed_definition_gets_its_own_engine_name():
    assert engine.compile_ruleset(variant(RULESET.rules, "other"))[0] != engine.compile_ruleset(RULESET)[0]


@pytest.mark.parametrize("condition, compiled", [
    ({"fact": "veteran", "eq": "yes"}, {"veteran": "yes"}),
    ({"fact": "veteran", "ne": "yes"}, {"$neq": {"veteran": "yes"}}),
    ({"fact": "veteran", "in": ["no", "unknown"]}, {"$or": [{"veteran": "no"}, {"veteran": "unknown"}]}),
    ({"fact": "veteran", "not_in": ["no", "unknown"]},
     {"$and": [{"$neq": {"veteran": "no"}}, {"$neq": {"veteran": "unknown"}}]}),
    ({"all": [{"fact": "veteran", "eq": "yes"}, {"any": [{"fact": "pain_location", "eq": "leg"}]}]},
     {"$and": [{"veteran": "yes"}, {"$or": [{"pain_location": "leg"}]}]}),
    ({"always": True}, {"fact_kind": "triage-answers"}),
])
def test_conditions_compile_to_durable_json(condition, compiled):
    assert engine.compile_condition(Condition.model_validate(condition)) == compiled


def test_every_ruleset_gets_a_catch_all_so_no_fact_is_unhandled():
    _, definition = engine.compile_ruleset(RULESET)
    assert definition["catch-all"]["all"] == [{"m": {"fact_kind": "triage-answers"}}]


def test_more_evaluations_than_durable_keeps_live_sessions():
    """durable caps live sids at 1024; each evaluation must delete its state."""
    fact = derive(parse_answers({"veteran": "yes"}, today=TODAY), SETTINGS).fact
    for _ in range(1100):  # engine.fire itself: assess would recall the kept decisions instead
        fired = engine.fire(RULESET, fact)
    assert "TOPIC-02" in fired


def test_the_same_definition_loaded_twice_shares_one_registration():
    again = load_ruleset()
    parsed = parse_answers({}, today=TODAY)
    assert assess(parsed, again, SETTINGS) == assess(parsed, RULESET, SETTINGS)


def test_concurrent_threads_are_serialised():
    """Unlocked, 8 threads segfaulted durable in 3 of 5 runs; run it in a child so a crash fails here."""
    script = """
import threading
from datetime import date
from triage.core.answers import parse_answers
from triage.decision import engine
from triage.core.facts import derive
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings
rs, st = load_ruleset(), load_settings()
cases = [derive(parse_answers({"red_flag_major_trauma": "yes" if i % 2 else "no", "veteran": "yes"}, today=date(2026, 11, 24)), st).fact for i in range(8)]
expected = [engine.fire(rs, fact) for fact in cases]
bad = []
def work(i):
    for _ in range(150):
        if engine.fire(rs, cases[i]) != expected[i]:
            bad.append(i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
print("mismatches", len(bad))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=SCRATCH, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "mismatches 0"


def test_an_exception_inside_an_action_is_raised_not_swallowed(monkeypatch):
    ruleset = variant(RULESET.rules, "action fails")

    def failing_action(name):
        def act(_context):
            raise RuntimeError("boom")
        return act

    engine._ensure_registered(RULESET)  # the host exists
    monkeypatch.setattr(engine._host, "get_action", failing_action)
    with pytest.raises(EngineError, match="action failed.*boom"):
        engine.fire(ruleset, {name: "x" for name in ("veteran",)})


def _without(rule_id: str):
    return variant([rule for rule in RULESET.rules if rule.id != rule_id], f"without {rule_id}")


def test_no_result_without_a_consult_rule():
    with pytest.raises(EngineError, match="status and a consult"):
        assess(parse_answers({}, today=TODAY), _without("CONSULT-01"), SETTINGS)


def _unchecked(rules, title: str):
    """A ruleset the loader would refuse (model_copy skips validation): what a defect in the engine
    or in a definition could produce, so the checks on every result can be shown to refuse it."""
    return RULESET.model_copy(update={"rules": tuple(rules),
                                      "ruleset": RULESET.ruleset.model_copy(update={"title": title})})


def test_a_ruleset_without_a_red_flag_rule_is_refused_at_load():
    with pytest.raises(ValueError, match="red_flag_bladder_bowel needs exactly one rule"):
        _without("RF-01")


def _losing(monkeypatch, rule_id: str) -> None:
    """Both evaluators agree, yet a rule's conclusion is lost (a defect past the engine check): the
    invariants, recomputed from the answers, must still refuse the result."""
    import triage.decision.assess

    fire = triage.decision.assess.checked_fire
    monkeypatch.setattr(triage.decision.assess, "checked_fire", lambda ruleset, fact: [i for i in fire(ruleset, fact) if i != rule_id])


def test_a_missed_red_flag_fails_closed(monkeypatch):
    """If a red-flag rule's conclusion went missing, the invariant check refuses the result."""
    _losing(monkeypatch, "RF-01")
    with pytest.raises(EngineError, match="red flags"):
        assess(parse_answers({"red_flag_bladder_bowel": "yes"}, today=TODAY), RULESET, SETTINGS)


def test_an_escalated_consult_without_a_red_flag_fails_closed():
    rules = [rule.model_copy(update={"then": rule.then.model_copy(update={"consult": "emergency"})})
             if rule.id == "CONSULT-01" else rule for rule in RULESET.rules]
    with pytest.raises(EngineError, match="urgency"):
        assess(parse_answers({}, today=TODAY), _unchecked(rules, "CONSULT-01 as emergency"), SETTINGS)


@pytest.mark.parametrize("answers", [
    {"red_flag_bladder_bowel": "yes", "red_flag_cancer_or_weight_loss": "yes"},
    {"red_flag_fever_or_wound": "yes", "red_flag_immunosuppression": "yes"},
    {"red_flag_clot_signs": "yes", "red_flag_fever_or_wound": "yes"},
])
def test_a_mixed_tier_result_other_than_the_highest_fails_closed(monkeypatch, answers):
    """Any yes red flag -> urgent, with the highest tier among the yes answers (PRODUCT.md). If the
    result's aggregation took the lowest instead, the independent check refuses it."""
    import triage.decision.result_builder

    monkeypatch.setattr(triage.decision.result_builder, "URGENCY_ORDER", ("soon", "same_day", "emergency", "routine"))
    with pytest.raises(EngineError, match="urgency"):
        assess(parse_answers(answers, today=TODAY), RULESET, SETTINGS)


@pytest.mark.parametrize("answers, dropped, message", [
    ({"veteran": "yes", "va_drive_time_over_standard": "yes"}, "VA-01", "criteria"),
    ({"veteran": "yes"}, "VA-04", "to-do"),
    ({"veteran": "yes", "va_enrolled": "yes", "va_referral": "yes"}, "TOPIC-02", "criteria|veteran"),
])
def test_a_lost_va_conclusion_fails_closed(monkeypatch, answers, dropped, message):
    _losing(monkeypatch, dropped)
    with pytest.raises(EngineError, match=message):
        assess(parse_answers(answers, today=TODAY), RULESET, SETTINGS)


def test_an_open_red_flag_screen_not_reported_fails_closed():
    with pytest.raises(EngineError, match="red-flag screen"):
        assess(parse_answers({}, today=TODAY), _without("SCREEN-01"), SETTINGS)


def test_a_step_nobody_concluded_fails_closed():
    with pytest.raises(EngineError, match="step 3"):
        assess(parse_answers({}, today=TODAY), _without("STRUCT-02"), SETTINGS)


def test_a_changed_copy_never_keeps_the_cached_fingerprint():
    """model_copy would carry a cached fingerprint over; a changed copy must get its own."""
    original = RULESET.fingerprint
    copied = RULESET.model_copy(update={"rules": tuple(r for r in RULESET.rules if r.id != "TOPIC-02")})
    assert copied.fingerprint != original
    assert engine.engine_name(copied) != engine.engine_name(RULESET)
    assert "TOPIC-02" not in engine.fire(copied, {name: "x" for name in ("veteran",)} | {"veteran": "yes"})


def test_a_failing_assert_never_deletes_the_unhandled_session(monkeypatch):
    """delete_state on the sid of a fact durable did not handle segfaults; fire must skip it."""
    engine._ensure_registered(RULESET)
    deleted = []

    def refuse(*_):
        raise Exception("error 201: could not assert")  # durable raises bare Exceptions

    monkeypatch.setattr(engine._host, "assert_fact", refuse)
    monkeypatch.setattr(engine._host, "delete_state", lambda *args: deleted.append(args))
    with pytest.raises(EngineError, match="the rules engine failed: error 201"):
        engine.fire(RULESET, {"veteran": "yes"})
    assert deleted == []


def test_a_ruleset_is_compiled_once_per_object(monkeypatch):
    ruleset = variant(RULESET.rules, "compiled once")
    calls = []
    real = engine.compile_ruleset
    monkeypatch.setattr(engine, "compile_ruleset", lambda r: calls.append(r) or real(r))
    fact = {"veteran": "yes"}
    assert engine.fire(ruleset, fact) == engine.fire(ruleset, fact)
    assert len(calls) == 1


def test_started_tells_whether_durable_threads_run_in_this_process():
    """Forking callers (batch) rely on this: false in a fresh process, true once the engine ran."""
    fresh = subprocess.run([sys.executable, "-c", "from triage.decision import engine; print(engine.started())"],
                           cwd=SCRATCH, capture_output=True, text=True, timeout=60)
    assert fresh.stdout.strip() == "False"
    engine.fire(RULESET, {"veteran": "yes"})
    assert engine.started() is True
