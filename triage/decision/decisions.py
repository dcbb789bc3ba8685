"""The engine's checked decisions, kept for reuse: a rule's outcome depends only on the facts it reads.

A rule's condition reads a few derived facts (``Condition.facts_used``), each with a handful of values,
so over a backlog the same combinations come back again and again (125 distinct ones over 100,000
generated intakes). Each rule's decision for a combination is kept the first time durable makes it,
and only once the independent evaluator has agreed with that evaluation as a whole (see
``triage.decision.assess.checked_fire``). An evaluation whose every rule finds its combination here is
answered from these decisions - each one made by durable for exactly that combination - and is still
checked by the independent evaluator, like every other. Anything not found goes to durable.

Keyed by the ruleset's fingerprint: an edited definition never meets decisions made under another.
"""

from __future__ import annotations

from operator import itemgetter

from triage.core.ruleset import Ruleset

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
        # The same keys, read by C getters (a fact lacking a field is refused before a recall: the
        # independent evaluator reads every fact a rule reads).
        self._whole_key = _getter(self._read)
        self._keys = [_getter(reads) for _, reads in self._rules]

    def recall(self, fact: dict[str, str]) -> list[str] | None:
        """The rules that fire for ``fact``, in ruleset order, if every rule's decision is known."""
        try:
            whole = self._whole_key(fact)
        except KeyError:
            return None  # not a fact these decisions were made for: durable is asked
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
        for (rule_id, _), key, known in zip(self._rules, self._keys, self._known):
            decision = known.get(key(fact))
            if decision is None:
                return None
            if decision:
                fired.append(rule_id)
        return fired

    def keep(self, fact: dict[str, str], fired: list[str]) -> None:
        """Keep each rule's decision of one checked evaluation of ``fact``."""
        fired_ids = set(fired)
        try:
            self._whole_key(fact)
        except KeyError:
            return  # a fact without every field the rules read: nothing is kept (it is asked afresh)
        for (rule_id, _), key, known in zip(self._rules, self._keys, self._known):
            if len(known) >= MAX_COMBINATIONS_PER_RULE:
                known.clear()
            known[key(fact)] = rule_id in fired_ids


def _getter(names: tuple[str, ...]):
    """The values of ``names`` in a fact, as one key (a tuple; ``()`` when a rule reads none)."""
    if not names:
        return lambda fact: ()
    if len(names) == 1:
        name = names[0]
        return lambda fact: (fact[name],)
    return itemgetter(*names)


_by_ruleset: dict[str, Decisions] = {}


def forget() -> None:
    """Drop every kept decision (tests start from none, so no test depends on another's order)."""
    _by_ruleset.clear()


def for_ruleset(ruleset: Ruleset) -> Decisions:
    decisions = _by_ruleset.get(ruleset.fingerprint)
    if decisions is None:
        decisions = _by_ruleset[ruleset.fingerprint] = Decisions(ruleset)
    return decisions
