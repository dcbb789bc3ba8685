"""The independent evaluator of the rule definitions: every evaluation is checked against it.

It reads the same validated definitions (``rules/*.toml`` through ``load_ruleset``) and decides which
rules fire by walking each rule's condition tree in plain Python over the derived fact. It shares
nothing with ``triage/engine.py``: no durable_rules, no ``compile_condition``. When the two disagree,
one of them is wrong: ``triage.assess`` refuses the result, and the differential tests
(tests/test_differential.py) say which case.

Deliberately naive: one ``if`` per condition shape, the meaning written out as PRODUCT.md and the
module docstring of ``triage/ruleset.py`` state it. A fact absent from the fact object is an error
here (the engine would silently not match), so a derived fact that lost a field is caught too.
"""

from __future__ import annotations

from triage.ruleset import Condition, Ruleset


def holds(condition: Condition, fact: dict[str, str]) -> bool:
    if condition.always:
        return True
    if condition.all is not None:
        return all(holds(child, fact) for child in condition.all)
    if condition.any is not None:
        return any(holds(child, fact) for child in condition.any)
    value = fact[condition.fact]  # KeyError: the fact object lacks a field a rule reads
    if condition.eq is not None:
        return value == condition.eq
    if condition.ne is not None:
        return value != condition.ne
    if condition.in_ is not None:
        return value in condition.in_
    if condition.not_in is not None:
        return value not in condition.not_in
    raise AssertionError(f"condition of unknown shape: {condition!r}")


def fired(ruleset: Ruleset, fact: dict[str, str]) -> list[str]:
    """The ids of the rules whose condition holds, in ruleset order (as ``engine.fire`` returns)."""
    return [rule.id for rule in ruleset.rules if holds(rule.when, fact)]
