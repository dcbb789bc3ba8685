"""The engine never loses a decision (issue: engine integrity under load).

The mechanism, from durable_rules 2.0.28's own code: ``durable.engine.Host.__init__`` calls ``_run()``,
which starts two ``threading.Timer`` chains that call ``ruleset.dispatch()`` (C ``start_action``) and
``dispatch_timers()`` every 0.2 s, outside any lock of ours. ``start_action`` takes the next pending
action of *any* session whose lease is free. Between our ``assert_fact`` (which queues the fired rules'
actions in the session) and our own ``start_action_for_state``, the lease is free: when the foreground
is slow (a loaded machine), the dispatcher thread takes our action first. The foreground then finds no
action to run, returns a fired list with rules missing, and deletes the session while the dispatcher
is still inside the action; the dispatcher's ``complete_and_start_action`` then fails with error 307
(``ERR_NODE_DELETED``) and durable logs a traceback to standard error. Its late action could also land
in the next evaluation's fired list.

The tests below make the slow foreground deterministic instead of waiting for a loaded machine: right
after the C ``assert_fact`` the foreground waits until another thread has taken an action (or a
generous time has passed). With durable's threads running, the dispatcher takes it within 0.2 s and the
evaluation loses its rules; with no durable thread, nothing can take it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import date

import pytest
from durable import engine as durable

from conftest import ROOT, run_cli

from triage.decision import engine
from triage.core.answers import parse_answers
from triage.decision.assess import assess
from triage.core.errors import EngineError
from triage.core.facts import derive
from triage.decision.reference import fired as reference_fired
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

RULESET = load_ruleset()
SETTINGS = load_settings()
TODAY = date(2026, 11, 24)
ANSWERS = parse_answers({"veteran": "yes", "red_flag_major_trauma": "no", "mri_available": "yes"}, today=TODAY)

# How long the stalled foreground waits for a dispatcher: durable's runs every 0.2 s, so 2 s is
# ten chances even on a loaded machine. Only paid once per test on fixed code (nothing comes).
_STALL_SECONDS = 2.0


@pytest.fixture
def stalled_foreground(monkeypatch):
    """Stall every evaluation right after the C assert, as a loaded machine does, and hold any action
    that another thread starts until that evaluation has returned."""
    taken = threading.Event()
    evaluation_done = threading.Event()
    foreground = threading.get_ident()
    original_assert = durable.Ruleset.assert_fact
    original_flush = durable.Ruleset._flush_actions

    def slow_assert(self, fact):
        offset = original_assert(self, fact)
        taken.wait(_STALL_SECONDS)
        return offset

    def flush(self, *args, **kwargs):
        if threading.get_ident() != foreground:
            taken.set()
            evaluation_done.wait(_STALL_SECONDS)
        return original_flush(self, *args, **kwargs)

    monkeypatch.setattr(durable.Ruleset, "assert_fact", slow_assert)
    monkeypatch.setattr(durable.Ruleset, "_flush_actions", flush)
    yield taken, evaluation_done
    evaluation_done.set()


def test_a_stalled_evaluation_still_gets_every_rule_that_fired(stalled_foreground):
    taken, evaluation_done = stalled_foreground
    fact = derive(ANSWERS, SETTINGS).fact
    try:
        fired = engine.fire(RULESET, fact)
    finally:
        evaluation_done.set()
    assert not taken.is_set(), "a durable thread took an action of the foreground evaluation"
    assert fired == reference_fired(RULESET, fact)


def test_a_stalled_assessment_gives_the_same_result_as_an_unstalled_one(stalled_foreground):
    _, evaluation_done = stalled_foreground
    try:
        stalled = assess(ANSWERS, RULESET, SETTINGS)
    finally:
        evaluation_done.set()
    assert stalled.model_dump() == assess(ANSWERS, RULESET, SETTINGS).model_dump()


def _durable_threads() -> list[threading.Thread]:
    """Threads running durable code: its Timer chains target functions defined in durable.engine."""
    return [
        thread for thread in threading.enumerate()
        if getattr(getattr(thread, "function", None), "__module__", "") == durable.__name__
    ]


def test_no_durable_thread_runs_in_our_process():
    for _ in range(20):
        assess(ANSWERS, RULESET, SETTINGS)
    assert engine.started()
    assert _durable_threads() == []
    assert [thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)] == []


def test_an_action_for_another_session_is_refused(monkeypatch):
    """Defence in depth: an action that arrives for any session but the one being evaluated (a late
    action of an earlier evaluation, say) fails the evaluation instead of joining its fired list."""
    fact = derive(ANSWERS, SETTINGS).fact
    original = engine._Host.get_action

    def stray(self, action_name):
        record = original(self, action_name)

        def run(context):
            context.s.sid = "e0-someone-else"
            return record(context)

        return run

    monkeypatch.setattr(engine._Host, "get_action", stray)
    name = engine.engine_name(RULESET) + "-stray"
    monkeypatch.setattr(engine, "engine_name", lambda ruleset: name)
    with pytest.raises(EngineError, match="another evaluation"):
        engine.fire(RULESET, fact)


def test_durable_log_records_fail_the_evaluation_and_never_reach_stderr(monkeypatch, capsys):
    fact = derive(ANSWERS, SETTINGS).fact
    original = durable.Ruleset.assert_fact

    def noisy(self, payload):
        logging.getLogger("durable").error("error code: 307 (simulated)")
        return original(self, payload)

    monkeypatch.setattr(durable.Ruleset, "assert_fact", noisy)
    with pytest.raises(EngineError, match="307"):
        engine.fire(RULESET, fact)
    assert capsys.readouterr().err == ""


# Every decision is checked: a disagreement with the independent evaluator is refused in every channel.

def _dropping(rule_id: str):
    real = engine.fire

    def fire(ruleset, fact):
        return [fired for fired in real(ruleset, fact) if fired != rule_id]

    return fire


def test_a_rule_the_engine_lost_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr(engine, "fire", _dropping("TOPIC-02"))
    with pytest.raises(EngineError, match=r"disagree on TOPIC-02;"):
        assess(ANSWERS, RULESET, SETTINGS)


def test_a_rule_the_engine_added_is_refused_naming_it(monkeypatch):
    real = engine.fire
    monkeypatch.setattr(engine, "fire", lambda ruleset, fact: sorted({*real(ruleset, fact), "TOPIC-01"},
                                                                   key=[r.id for r in ruleset.rules].index))
    with pytest.raises(EngineError, match=r"disagree on TOPIC-01;"):
        assess(ANSWERS, RULESET, SETTINGS)


def test_assess_exits_4_with_one_line_and_no_result_on_a_disagreement(monkeypatch, answers_file):
    monkeypatch.setattr(engine, "fire", _dropping("TOPIC-02"))
    run = run_cli("assess", answers_file({"veteran": "yes"}), "--format", "json")
    assert run.code == 4 and run.out == ""
    assert run.err.count("\n") == 1 and "TOPIC-02" in run.err


def test_batch_records_a_disagreement_as_an_engine_error_and_keeps_the_answers(monkeypatch, tmp_path):
    monkeypatch.setattr(engine, "fire", _dropping("TOPIC-02"))
    source = tmp_path / "in.jsonl"
    source.write_text('{"patient_id": "A"}\n{"patient_id": "V", "veteran": "yes"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", str(source), "--out", str(out), "--workers", "1")
    assert run.code == 4
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert records[0]["status"] == "records_needed"
    assert records[1]["error"] == "engine" and records[1]["patient_id"] == "V"
    assert "TOPIC-02" in records[1]["errors"][0]["message"]
    assert source.read_text(encoding="utf-8").count("veteran") == 1  # the input is never touched


def test_the_stress_script_runs_and_counts_nothing_wrong(capsys, monkeypatch):
    """The stress evidence script itself (tiny sizes here; its full run is in docs/verification.md)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # its spawned workers import it by name
    import stress_engine as stress

    code = stress.main(["--evaluations", "300", "--intakes", "40", "--workers", "1", "--load", "1",
                        "--max-seconds", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    counts = {line[:18].strip(): line[18:].split()[0] for line in out.splitlines()}
    assert counts["evaluations"] == "300"
    assert counts["engine errors"] == counts["disagreements"] == counts["differ from alone"] == "0"
