"""The engine's checked decisions, kept for reuse: a rule's outcome depends only on the facts it reads.

A rule's condition reads a few derived facts (``Condition.facts_used``), each with a handful of values,
so over a backlog the same combinations come back again and again (125 distinct ones over 100,000
generated intakes). Each rule's decision for a combination is kept the first time durable makes it,
and only once the independent evaluator has agreed with that evaluation as a whole (see
``triage.assess.checked_fire``). An evaluation whose every rule finds its combination here is
answered from these decisions - each one made by durable for exactly that combination - and is still
checked by the independent evaluator, like every other. Anything not found goes to durable.

Keyed by the ruleset's fingerprint: an edited definition never meets decisions made under another.
"""

from __future__ import annotations

from triage.ruleset import Ruleset

# Bounds the memory a pathological input stream could make us hold (the real count is ~125 in all).
MAX_COMBINATIONS_PER_RULE = 10_000


class Decisions:
    """Per rule: the facts it reads, and whether it fired for each combination of their values."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._rules = [(rule.id, tuple(rule.when.facts_used())) for rule in ruleset.rules]
        self._known: list[dict[tuple[str, ...], bool]] = [{} for _ in self._rules]
        # A shortcut over the per-rule decisions: the whole combination of every fact any rule reads,
        # to the fired list the per-rule decisions gave for it (one look-up instead of one per rule).
        self._read = tuple(dict.fromkeys(name for _, reads in self._rules for name in reads))
        self._whole: dict[tuple[str, ...], list[str]] = {}

    def recall(self, fact: dict[str, str]) -> list[str] | None:
        """The rules that fire for ``fact``, in ruleset order, if every rule's decision is known."""
        whole = tuple([fact.get(name) for name in self._read])
        fired = self._whole.get(whole)
        if fired is not None:
            return list(fired)
        fired = self._recall_each(fact)
        if fired is not None:
            if len(self._whole) >= MAX_COMBINATIONS_PER_RULE * 10:
                self._whole.clear()
            self._whole[whole] = fired
            return list(fired)
        return None

    def _recall_each(self, fact: dict[str, str]) -> list[str] | None:
        fired = []
        for (rule_id, reads), known in zip(self._rules, self._known):
            decision = known.get(tuple([fact.get(name) for name in reads]))
            if decision is None:
                return None
            if decision:
                fired.append(rule_id)
        return fired

    def keep(self, fact: dict[str, str], fired: list[str]) -> None:
        """Keep each rule's decision of one checked evaluation of ``fact``."""
        fired_ids = set(fired)
        for (rule_id, reads), known in zip(self._rules, self._known):
            if len(known) >= MAX_COMBINATIONS_PER_RULE:
                known.clear()
            known[tuple([fact.get(name) for name in reads])] = rule_id in fired_ids


_by_ruleset: dict[str, Decisions] = {}


def forget() -> None:
    """Drop every kept decision (tests start from none, so no test depends on another's order)."""
    _by_ruleset.clear()


def for_ruleset(ruleset: Ruleset) -> Decisions:
    decisions = _by_ruleset.get(ruleset.fingerprint)
    if decisions is None:
        decisions = _by_ruleset[ruleset.fingerprint] = Decisions(ruleset)
    return decisions
