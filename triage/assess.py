"""From validated answers to a result: derived facts, the engine, then the result contract.

The engine decides; this module only collects what the fired rules concluded, in a fixed order, and
refuses to give a result that breaks a safety invariant (fail closed rather than show a wrong one).
Every decision is checked before it is used: a second evaluator of the same rule data, in plain Python
and sharing no code with the engine adapter (``triage.reference``), must find exactly the same fired
rules, or the result is refused. A disagreement is never retried: a retry would hide the fault.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

from pydantic_core import to_json

from triage import decisions, engine, reference
from triage.answers import RED_FLAGS, Answers
from triage.errors import EngineError
from triage.facts import Derived, derive
from triage.result import STATUS_ORDER, STEP_STATUS_ORDER, URGENCY_ORDER, Result, Status, VaCriterion, VaToDo
from triage.ruleset import Rule, Ruleset
from triage.settings import Settings


class _RuleParts(NamedTuple):
    """What a rule contributes to every trace entry; fixed by its definition, so computed once."""

    rule: Rule
    facts: tuple[str, ...]
    concluded: dict[str, Any]
    settings: tuple[str, ...]


# Keyed by the ruleset's content fingerprint, so an edited definition never meets stale parts.
_parts_by_ruleset: dict[str, dict[str, _RuleParts]] = {}


def _rule_parts(ruleset: Ruleset) -> dict[str, _RuleParts]:
    parts = _parts_by_ruleset.get(ruleset.fingerprint)
    if parts is None:
        parts = {
            rule.id: _RuleParts(rule, tuple(rule.when.facts_used()), rule.then.as_dict(), tuple(rule.settings_used))
            for rule in ruleset.rules
        }
        _parts_by_ruleset[ruleset.fingerprint] = parts
    return parts


def assess(answers: Answers, ruleset: Ruleset, settings: Settings) -> Result:
    """The result as the validated model every channel renders."""
    return Result.model_validate(assess_data(answers, ruleset, settings))


def assess_json(answers: Answers, ruleset: Ruleset, settings: Settings) -> str:
    """The same result as compact JSON, without building the models: a backlog pays for the models'
    validation once per line otherwise (a quarter of batch time). It is the same data ``assess``
    validates, serialised by the same serialiser, so the bytes are those of
    ``assess(...).model_dump_json()`` (tests/test_speed.py compares them)."""
    return to_json(assess_data(answers, ruleset, settings)).decode()


def assess_data(answers: Answers, ruleset: Ruleset, settings: Settings) -> dict[str, Any]:
    """The result contract as plain JSON data, checked against the safety invariants."""
    derived = derive(answers, settings)
    parts = _rule_parts(ruleset)
    fired = [parts[rule_id].rule for rule_id in checked_fire(ruleset, derived.fact)]
    data = _build(answers, derived, fired, ruleset, settings)
    _check_invariants(answers, data, ruleset)
    return data


def checked_fire(ruleset: Ruleset, fact: dict[str, str], *, recall: bool = True) -> list[str]:
    """The rules that fire for ``fact``: durable's decisions (made now, or recalled from an earlier
    checked evaluation of the same combination: ``triage.decisions``), once the independent evaluator
    has found the same ones. ``recall=False`` asks durable afresh (the stress evidence does)."""
    try:
        expected = reference.fired(ruleset, fact)
    except KeyError as missing:  # the derived fact lacks a field a rule reads
        raise EngineError(f"the independent check cannot read fact {missing}; refusing to give a result") from None
    kept = decisions.for_ruleset(ruleset)
    fired = kept.recall(fact) if recall else None
    fresh = fired is None
    if fresh:
        fired = engine.fire(ruleset, fact)
    if fired != expected:
        differing = sorted(set(fired) ^ set(expected))
        raise EngineError(
            f"the rules engine and the independent check disagree on {', '.join(differing)}; "
            "refusing to give a result"
        )
    if fresh:
        kept.keep(fact, fired)  # only decisions the check agreed with are ever reused
    return fired


def _text(template: str, values: dict[str, Any]) -> str:
    return template.format_map(values)


def _build(answers: Answers, derived: Derived, fired: list[Rule], ruleset: Ruleset,
           settings: Settings) -> dict[str, Any]:
    """The result as JSON data, keys in the order of the ``Result`` model's fields."""
    parts = _rule_parts(ruleset)
    values = derived.text_values.with_values(levels=", ".join(derived.unfused_tear_levels))
    # The veterans' pre-screen: criteria that may apply and paperwork, in the contract's order.
    concluded_va = {rule.then.va_criterion for rule in fired} | {rule.then.va_to_do for rule in fired}
    va_criteria = [c for c in VaCriterion.__args__ if c in concluded_va]
    va_to_do = [t for t in VaToDo.__args__ if t in concluded_va]
    values["va_criteria"] = "; ".join(_text(ruleset.va_criteria[c], values) for c in va_criteria) or "none known from the answers"
    values["va_to_do"] = "; ".join(_text(ruleset.va_to_do[t], values) for t in va_to_do) or "none"

    reasons = {rule.id: _text(rule.then.reason, values) for rule in fired}

    statuses = {rule.then.status for rule in fired if rule.then.status}
    urgencies = {rule.then.consult for rule in fired if rule.then.consult}
    if not statuses or not urgencies:
        raise EngineError("no rule concluded a status and a consult; refusing to give a result")
    status = next(s for s in STATUS_ORDER if s in statuses)
    urgency = next(u for u in URGENCY_ORDER if u in urgencies)  # the highest tier that fired

    missing_reasons: dict[str, list[str]] = defaultdict(list)
    step_conclusions: dict[int, list[tuple[Any, str]]] = defaultdict(list)
    discussion_ids: set[str] = set()
    for rule in fired:
        if rule.then.missing:
            missing_reasons[rule.then.missing].append(reasons[rule.id])
        if rule.then.step_status:
            step_conclusions[rule.step].append((rule.then.step_status, reasons[rule.id]))
        if rule.then.discussion:
            discussion_ids.add(rule.then.discussion)

    steps = []
    for number in range(1, 5):
        concluded = step_conclusions.get(number)
        if not concluded:
            raise EngineError(f"no rule concluded step {number}; refusing to give a result")
        chosen = next(s for s in STEP_STATUS_ORDER if any(c == s for c, _ in concluded))
        steps.append({
            "step": number,
            "title": ruleset.steps[str(number)].title,
            "status": chosen.value,
            "reasons": [reason for c, reason in concluded if c == chosen],
        })

    discussion_points = []
    for key, text in ruleset.discussion_points.items():
        if key not in discussion_ids:
            continue
        point: dict[str, Any] = {"id": key}
        if key == "va_community_care":
            point["criteria"], point["to_do"] = va_criteria, va_to_do
        elif text.levels_from:
            point["levels"] = list(getattr(derived, text.levels_from))
        point["text"] = _text(text.text, values)
        discussion_points.append(point)

    return {
        "status": status.value,
        "physician_consult": {"recommended": True, "urgency": urgency,
                              "message": _text(ruleset.messages.consult(urgency), values)},
        "red_flags": [q for q in RED_FLAGS if q in {rule.then.red_flag for rule in fired}],
        "missing_items": [
            {"id": key, "label": text.label, "reason": " ".join(missing_reasons[key])}
            for key, text in ruleset.missing_items.items()
            if key in missing_reasons
        ],
        "steps": steps,
        "discussion_points": discussion_points,
        "adjacent_levels": list(derived.adjacent_levels),
        "months_since_fusion": derived.months_since_fusion,
        "assessment_date": str(answers.assessment_date),
        "ruleset": {"name": ruleset.ruleset.name, "version": ruleset.ruleset.version},
        "settings": dict(settings.json_data),
        "trace": [_trace(parts[rule.id], reasons[rule.id], answers, derived, settings) for rule in fired],
        "disclaimer": _text(ruleset.messages.disclaimer, values),
    }


def _trace(parts: _RuleParts, reason: str, answers: Answers, derived: Derived, settings: Settings) -> dict[str, Any]:
    rule = parts.rule
    return {
        "rule": rule.id,
        "version": rule.version,
        "title": rule.title,
        "step": rule.step,
        "source": rule.source,
        "concluded": dict(parts.concluded),
        "reason": reason,
        "inputs": {field: answers.as_json(field) for field in rule.reads},
        "facts": {fact: derived.fact[fact] for fact in parts.facts},
        "settings": {name: _plain(getattr(settings, name)) for name in parts.settings},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _check_invariants(answers: Answers, result: dict[str, Any], ruleset: Ruleset) -> None:
    """Safety principles checked on every result, independently of the rules that produced it: they
    are recomputed from the answers and PRODUCT.md's wording (the tiers are the rules file's data)."""
    said_yes = [q for q in RED_FLAGS if getattr(answers, q) == "yes"]
    if result["red_flags"] != said_yes:
        raise EngineError(f"red flags {result['red_flags']} do not match the answers {said_yes}")
    # Any yes -> urgent, with the highest tier among the yes answers; no yes -> routine, never urgent.
    tiers = {ruleset.red_flag_tier(q) for q in said_yes}
    expected_urgency = next((u for u in ("emergency", "same_day", "soon") if u in tiers), "routine")
    if (result["status"] == Status.urgent.value) != bool(said_yes) or result["physician_consult"]["urgency"] != expected_urgency:
        raise EngineError(f"red flags {said_yes} need urgency {expected_urgency}, but the result is "
                          f"{result['status']} / {result['physician_consult']['urgency']}")
    screen_open = any(getattr(answers, q) in (None, "unknown") for q in RED_FLAGS)
    if screen_open != any(item["id"] == "red_flag_screen" for item in result["missing_items"]):
        raise EngineError("the red-flag screen is incomplete but the result does not say so")
    va = [point for point in result["discussion_points"] if point["id"] == "va_community_care"]
    if answers.veteran != "yes":
        if va:
            raise EngineError("VA community care is raised although veteran is not yes")
        return
    criteria = [c for c, q in (("drive_time", "va_drive_time_over_standard"), ("wait_time", "va_wait_over_standard"),
                               ("no_full_service_facility", "va_no_full_service_facility"))
                if getattr(answers, q) == "yes"]
    to_do = [t for t, q in (("confirm_enrollment", "va_enrolled"), ("request_va_referral", "va_referral"))
             if getattr(answers, q) != "yes"] + ["authorization_before_visit"]
    if len(va) != 1 or va[0]["criteria"] != criteria or va[0]["to_do"] != to_do:
        raise EngineError(f"veteran: VA community care needs criteria {criteria} and to-do {to_do}")
