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

from triage import decisions, engine, reference
from triage.answers import RED_FLAGS, Answers
from triage.errors import EngineError
from triage.facts import Derived, derive
from triage.result import (
    STATUS_ORDER,
    STEP_STATUS_ORDER,
    DiscussionPoint,
    MissingItem,
    PhysicianConsult,
    Result,
    RulesetRef,
    Status,
    Step,
    TraceEntry,
)
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
    derived = derive(answers, settings)
    parts = _rule_parts(ruleset)
    fired = [parts[rule_id].rule for rule_id in checked_fire(ruleset, derived.fact)]
    result = _build(answers, derived, fired, ruleset, settings)
    _check_invariants(answers, result)
    return result


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


def _build(answers: Answers, derived: Derived, fired: list[Rule], ruleset: Ruleset, settings: Settings) -> Result:
    parts = _rule_parts(ruleset)
    values = {**derived.text_values, "levels": ", ".join(derived.unfused_tear_levels)}
    given = answers.answered()  # once per result, not once per fired rule (it dominated batch time)
    reasons = {rule.id: _text(rule.then.reason, values) for rule in fired}

    statuses = {rule.then.status for rule in fired if rule.then.status}
    urgencies = {rule.then.consult for rule in fired if rule.then.consult}
    if not statuses or not urgencies:
        raise EngineError("no rule concluded a status and a consult; refusing to give a result")
    status = next(s for s in STATUS_ORDER if s in statuses)
    urgency = "emergency" if "emergency" in urgencies else "routine"
    message = ruleset.messages.consult_emergency if urgency == "emergency" else ruleset.messages.consult_routine

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
        steps.append(Step(
            step=number,
            title=ruleset.steps[str(number)].title,
            status=chosen,
            reasons=[reason for c, reason in concluded if c == chosen],
        ))

    return Result(
        status=status,
        physician_consult=PhysicianConsult(urgency=urgency, message=_text(message, values)),
        red_flags=[q for q in RED_FLAGS if any(rule.then.red_flag == q for rule in fired)],
        missing_items=[
            MissingItem(id=key, label=text.label, reason=" ".join(missing_reasons[key]))
            for key, text in ruleset.missing_items.items()
            if key in missing_reasons
        ],
        steps=steps,
        discussion_points=[
            _discussion(key, text, derived, values)
            for key, text in ruleset.discussion_points.items()
            if key in discussion_ids
        ],
        adjacent_levels=derived.adjacent_levels,
        months_since_fusion=derived.months_since_fusion,
        assessment_date=str(answers.assessment_date),
        ruleset=RulesetRef(name=ruleset.ruleset.name, version=ruleset.ruleset.version),
        settings=settings.model_dump(),
        trace=[_trace(parts[rule.id], reasons[rule.id], given, derived, settings) for rule in fired],
        disclaimer=_text(ruleset.messages.disclaimer, values),
    )


def _discussion(key, text, derived: Derived, values) -> DiscussionPoint:
    levels = getattr(derived, text.levels_from) if text.levels_from else None
    return DiscussionPoint(id=key, levels=levels, text=_text(text.text, values))


def _trace(parts: _RuleParts, reason: str, given: dict[str, Any], derived: Derived, settings: Settings) -> TraceEntry:
    rule = parts.rule
    return TraceEntry(
        rule=rule.id,
        version=rule.version,
        title=rule.title,
        step=rule.step,
        source=rule.source,
        concluded=dict(parts.concluded),
        reason=reason,
        inputs={field: given.get(field) for field in rule.reads},
        facts={fact: derived.fact[fact] for fact in parts.facts},
        settings={name: getattr(settings, name) for name in parts.settings},
    )


def _check_invariants(answers: Answers, result: Result) -> None:
    """Safety principles checked on every result, independently of the rules that produced it."""
    said_yes = [q for q in RED_FLAGS if getattr(answers, q) == "yes"]
    if result.red_flags != said_yes:
        raise EngineError(f"red flags {result.red_flags} do not match the answers {said_yes}")
    if said_yes and (result.status != Status.urgent or result.physician_consult.urgency != "emergency"):
        raise EngineError("a red flag was answered yes but the result is not urgent")
    screen_open = any(getattr(answers, q) in (None, "unknown") for q in RED_FLAGS)
    if screen_open != any(item.id == "red_flag_screen" for item in result.missing_items):
        raise EngineError("the red-flag screen is incomplete but the result does not say so")
