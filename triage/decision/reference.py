"""The independent evaluator of the rule definitions: every evaluation is checked against it.

It reads the same validated definitions (``rules/*.toml`` through ``load_ruleset``) and decides which
rules fire in plain Python over the derived fact. It shares nothing with ``triage/decision/engine.py``: no
durable_rules, no ``compile_condition``. When the two disagree, one of them is wrong: ``triage.decision.assess``
refuses the result, and the differential tests (tests/decision/test_differential.py) say which case.

Two forms of the same meaning, written out as PRODUCT.md and the module docstring of
``triage/core/ruleset.py`` state it:
- ``holds`` walks a condition tree, one ``if`` per condition shape: the deliberately naive statement;
- ``fired`` (what every evaluation is checked with) runs the ruleset's conditions written out once,
  per ruleset fingerprint, as one plain-Python function (``source``): the same ``if``s taken at load
  instead of on every line, five times faster. tests/decision/test_differential.py compares it with ``holds``
  on every combination the differential tests make. Writing it out costs as much as ~150 walks, so
  the first ``WALKS_BEFORE_WRITING_OUT`` evaluations of a ruleset walk it with ``holds``: a single
  `triage assess` never pays for the function; a batch, the web app and CDS Hooks soon do.
A fact absent from the fact object is an error in both (the engine would silently not match), so a
derived fact that lost a field is caught too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from triage.core.ruleset import Condition, Ruleset


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


class _Source:
    """A ruleset's conditions written out once as one plain-Python function over the fact: ``holds``
    with every shape decided at load. The source is made of our own words only: a fact's name and
    a value are referred to by their index in ``names`` and ``values``, never written into it, so no
    text of a definition can become code."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.values: list[Any] = []

    def _name(self, name: str) -> str:
        self.names.append(name)
        return f"fact[N[{len(self.names) - 1}]]"

    def _value(self, value: Any) -> str:
        self.values.append(value)
        return f"V[{len(self.values) - 1}]"

    def condition(self, condition: Condition) -> str:
        if condition.always:
            return "True"
        if condition.all is not None:
            return "(" + " and ".join(self.condition(child) for child in condition.all) + ")"
        if condition.any is not None:
            return "(" + " or ".join(self.condition(child) for child in condition.any) + ")"
        if condition.eq is not None:
            return f"({self._name(condition.fact)} == {self._value(condition.eq)})"
        if condition.ne is not None:
            return f"({self._name(condition.fact)} != {self._value(condition.ne)})"
        if condition.in_ is not None:
            return f"({self._name(condition.fact)} in {self._value(condition.in_)})"
        if condition.not_in is not None:
            return f"({self._name(condition.fact)} not in {self._value(condition.not_in)})"
        raise AssertionError(f"condition of unknown shape: {condition!r}")


def source(ruleset: Ruleset) -> tuple[str, list[str], list[Any]]:
    """The function ``fired`` runs for ``ruleset``: its source, and the names and values it refers to."""
    writer = _Source()
    lines = ["def fired(fact, N=N, V=V, R=R):", "    found = []"]
    for number, rule in enumerate(ruleset.rules):
        lines += [f"    if {writer.condition(rule.when)}:", f"        found.append(R[{number}])"]
    lines.append("    return found")
    return "\n".join(lines) + "\n", writer.names, writer.values


# Keyed by the ruleset's content fingerprint, so an edited definition is compiled afresh.
_compiled: dict[str, Callable[[dict[str, str]], list[str]]] = {}


def compiled(ruleset: Ruleset) -> Callable[[dict[str, str]], list[str]]:
    function = _compiled.get(ruleset.fingerprint)
    if function is None:
        text, names, values = source(ruleset)
        namespace = {"N": tuple(names), "V": tuple(values), "R": tuple(rule.id for rule in ruleset.rules)}
        exec(compile(text, f"<independent evaluator of {ruleset.fingerprint}>", "exec"), namespace)  # noqa: S102
        function = _compiled[ruleset.fingerprint] = namespace["fired"]
    return function


WALKS_BEFORE_WRITING_OUT = 100
_walks: dict[str, int] = {}  # per ruleset fingerprint: evaluations walked so far


def fired(ruleset: Ruleset, fact: dict[str, str]) -> list[str]:
    """The ids of the rules whose condition holds, in ruleset order (as ``engine.fire`` returns)."""
    function = _compiled.get(ruleset.fingerprint)
    if function is not None:
        return function(fact)
    walks = _walks.get(ruleset.fingerprint, 0)
    if walks < WALKS_BEFORE_WRITING_OUT:
        _walks[ruleset.fingerprint] = walks + 1
        return [rule.id for rule in ruleset.rules if holds(rule.when, fact)]
    return compiled(ruleset)(fact)
