"""The principles of PRODUCT.md as properties over generated answers, through the real pipeline."""

from __future__ import annotations

import json
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.strategies import answers
from triage.core.answers import RED_FLAGS, parse_answers
from triage.decision.assess import assess
from triage.core.questionnaire import load_questionnaire
from triage.channels.render.result import render_markdown, render_text
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings
from support.wording import forbidden_in  # one list of phrasings: tests/data/language/forbidden.txt

RULESET = load_ruleset()
SETTINGS = load_settings()
QUESTIONNAIRE = load_questionnaire()
TODAY = date(2026, 11, 24)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(raw):
    parsed = parse_answers(raw, today=TODAY)
    return parsed, assess(parsed, RULESET, SETTINGS)


@PROPERTY
@given(answers())
def test_every_result_recommends_a_physician_consult(raw):
    _, result = run(raw)
    assert result.physician_consult.recommended is True
    assert result.physician_consult.message
    assert result.disclaimer


@PROPERTY
@given(answers(), st.sampled_from(RED_FLAGS))
def test_any_red_flag_yes_is_urgent_whatever_else(raw, flag):
    raw[flag] = "yes"
    _, result = run(raw)
    assert result.status.value == "urgent"
    # the highest tier among the yes answers: at least this flag's tier, never routine
    order = ("emergency", "same_day", "soon", "routine")
    assert order.index(result.physician_consult.urgency) <= order.index(RULESET.red_flag_tier(flag))
    assert flag in result.red_flags


@PROPERTY
@given(answers())
def test_red_flags_are_exactly_the_yes_answers(raw):
    parsed, result = run(raw)
    assert result.red_flags == [q for q in RED_FLAGS if getattr(parsed, q) == "yes"]
    assert (result.status.value == "urgent") == bool(result.red_flags)


@PROPERTY
@given(answers(), st.sampled_from(RED_FLAGS), st.sampled_from(["unknown", None]))
def test_unknown_or_absent_safety_answer_is_never_taken_as_no(raw, flag, value):
    """Replacing a 'no' by 'unknown' or by no answer never gives a calmer result, and always
    leaves the red-flag screen open."""
    raw[flag] = "no"
    _, with_no = run(raw)
    if value is None:
        raw.pop(flag)
    else:
        raw[flag] = value
    _, with_unknown = run(raw)
    assert "red_flag_screen" in [item.id for item in with_unknown.missing_items]
    assert with_unknown.status.value != "ready_for_evaluation"
    order = ["urgent", "too_early", "records_needed", "ready_for_evaluation"]
    assert order.index(with_unknown.status.value) <= order.index(with_no.status.value)


@PROPERTY
@given(answers())
def test_ready_only_when_nothing_is_missing_and_no_red_flag(raw):
    _, result = run(raw)
    if result.status.value == "ready_for_evaluation":
        assert not result.missing_items and not result.red_flags
    if result.missing_items and not result.red_flags:
        assert result.status.value in ("too_early", "records_needed")


@PROPERTY
@given(answers())
def test_same_answers_same_result(raw):
    first = run(json.loads(json.dumps(raw)))[1].to_json()
    second = run(json.loads(json.dumps(raw)))[1].to_json()
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@PROPERTY
@given(answers())
def test_every_statement_is_traced_to_a_fired_rule(raw):
    _, result = run(raw)
    concluded = [(kind, value) for entry in result.trace for kind, value in entry.concluded.items()]
    for item in result.missing_items:
        assert ("missing", item.id) in concluded
    for point in result.discussion_points:
        assert ("discussion", point.id) in concluded
    for flag in result.red_flags:
        assert ("red_flag", flag) in concluded
    assert ("status", result.status.value) in concluded
    for entry in result.trace:
        rule = RULESET.rule(entry.rule)
        assert entry.source == rule.source and set(entry.inputs) == set(rule.reads)


@PROPERTY
@given(answers())
def test_no_diagnostic_wording_in_any_output(raw):
    parsed, result = run(raw)
    given_answers = parsed.answered()
    outputs = [
        json.dumps(result.to_json(), ensure_ascii=False),
        render_text(result, given_answers, QUESTIONNAIRE),
        render_markdown(result, given_answers, QUESTIONNAIRE),
    ]
    for text in outputs:
        assert forbidden_in(text) is None, forbidden_in(text)


def test_forbidden_wording_check_can_fail():
    assert forbidden_in("Based on your answers you have an annular tear")
    assert forbidden_in("Diagnosis: adjacent segment disease")
    assert not forbidden_in("Topic for the physician: whether regenerative care should be evaluated")
