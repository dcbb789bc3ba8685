"""From validated answers to a result: derived facts, the checked engine decisions, then the result.

    derive(answers, settings)            the facts the rules read (triage/core/facts.py)
    checked_fire(ruleset, fact)          the rules that fire, found alike by two evaluators
    build_result(...)                    the result contract (triage/decision/result_builder.py)
    check_invariants(answers, result)    the safety principles, recomputed from the answers

The engine decides; the result only collects what the fired rules concluded, and a result that breaks
a safety invariant is refused (fail closed rather than show a wrong one). Every decision is checked
before it is used: a second evaluator of the same rule data, in plain Python and sharing no code with
the engine adapter (``triage.decision.reference``), must find exactly the same fired rules, or the result is
refused. A disagreement is never retried: a retry would hide the fault.

A batch makes the same bytes faster from kept JSON templates: triage/decision/batch_json.py.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

from triage.decision import decisions, engine, reference
from triage.core.answers import RED_FLAGS, Answers
from triage.core.errors import EngineError
from triage.core.facts import derive
from triage.decision.result_builder import build_result
from triage.core.result_values import Status
from triage.core.ruleset import Ruleset
from triage.core.settings import Settings

if TYPE_CHECKING:
    from triage.decision.result import Result


def assess(answers: Answers, ruleset: Ruleset, settings: Settings) -> Result:
    """The result as the validated model every channel renders (imported here: JSON output never
    builds the models)."""
    from triage.decision.result import Result

    return Result.model_validate(assess_data(answers, ruleset, settings))


def assess_data(answers: Answers, ruleset: Ruleset, settings: Settings) -> dict[str, Any]:
    """The result contract as plain JSON data, checked against the safety invariants."""
    derived = derive(answers, settings)
    fired = checked_fire(ruleset, derived.fact)
    result = build_result(answers, derived, [ruleset.rule(rule_id) for rule_id in fired], ruleset, settings)
    check_invariants(answers, result, ruleset)
    return result


def checked_fire(ruleset: Ruleset, fact: dict[str, str], *, recall: bool = True) -> list[str]:
    """The rules that fire for ``fact``: durable's decisions (made now, or recalled from an earlier
    checked evaluation of the same combination: ``triage.decision.decisions``), once the independent evaluator
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


_RED_FLAG_ANSWERS = attrgetter(*RED_FLAGS)


def check_invariants(answers: Answers, result: dict[str, Any], ruleset: Ruleset) -> None:
    """Safety principles checked on every result, independently of the rules that produced it: they
    are recomputed from the answers and PRODUCT.md's wording (the tiers are the rules file's data).
    Reads only the status, the consult, the red flags, the missing items' ids and the discussion
    points' ids, criteria and to-do."""
    if result["physician_consult"]["recommended"] is not True:  # PRODUCT.md: every result recommends it
        raise EngineError("the result does not recommend a physician consult")
    flags = _RED_FLAG_ANSWERS(answers)
    said_yes = [q for q, answer in zip(RED_FLAGS, flags) if answer == "yes"]
    if result["red_flags"] != said_yes:
        raise EngineError(f"red flags {result['red_flags']} do not match the answers {said_yes}")
    # Any yes -> urgent, with the highest tier among the yes answers; no yes -> routine, never urgent.
    tiers = {_red_flag_tiers(ruleset)[q] for q in said_yes}
    expected_urgency = next((u for u in ("emergency", "same_day", "soon") if u in tiers), "routine")
    if (result["status"] == Status.urgent.value) != bool(said_yes) or result["physician_consult"]["urgency"] != expected_urgency:
        raise EngineError(f"red flags {said_yes} need urgency {expected_urgency}, but the result is "
                          f"{result['status']} / {result['physician_consult']['urgency']}")
    screen_open = None in flags or "unknown" in flags
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


_tiers_by_ruleset: dict[str, dict[str, str]] = {}


def _red_flag_tiers(ruleset: Ruleset) -> dict[str, str]:
    """Each red-flag question's tier (``Ruleset.red_flag_tier``), looked up once per ruleset."""
    tiers = _tiers_by_ruleset.get(ruleset.fingerprint)
    if tiers is None:
        tiers = _tiers_by_ruleset[ruleset.fingerprint] = {q: ruleset.red_flag_tier(q) for q in RED_FLAGS}
    return tiers
