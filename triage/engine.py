"""The durable_rules adapter: the only module that imports durable.

durable_rules 2.0.28 crashes the process when misused (SAFETY.md, H9, lists how), so every
call follows the same discipline:
- one ``Host`` per process (each starts timer threads that never stop), created on first use;
- rulesets registered once, under a name that carries the definition's fingerprint;
- one merged fact per evaluation, asserted (not posted) so every matching rule fires;
- a fresh sid per evaluation, and ``delete_state`` afterwards (live sids are capped at 1024);
- a catch-all rule, so no fact is ever unhandled (an unhandled fact makes ``delete_state`` segfault);
- action exceptions, which durable swallows into the session state, are raised;
- one lock around every engine call: durable has no locking and segfaults under threads.
"""

from __future__ import annotations

import copy
import itertools
import threading
from typing import Any

from durable import engine as durable

from triage.errors import EngineError
from triage.ruleset import Condition, Ruleset

_KIND_FIELD = "fact_kind"
_KIND = "triage-answers"  # carried by every asserted fact; the catch-all and `always` match it
_CATCH_ALL = "catch-all"  # not a rule id (ids end in two digits), so it never reaches a result


def compile_condition(condition: Condition) -> dict[str, Any]:
    """Our condition -> durable's JSON expression (the form ``m`` takes)."""
    if condition.always:
        return {_KIND_FIELD: _KIND}
    if condition.all is not None:
        return {"$and": [compile_condition(child) for child in condition.all]}
    if condition.any is not None:
        return {"$or": [compile_condition(child) for child in condition.any]}
    fact = condition.fact
    if condition.eq is not None:
        return {fact: condition.eq}
    if condition.ne is not None:
        return {"$neq": {fact: condition.ne}}
    # durable has no `in` / `not in`: spell membership out as equalities.
    if condition.in_ is not None:
        return {"$or": [{fact: value} for value in condition.in_]}
    return {"$and": [{"$neq": {fact: value}} for value in condition.not_in]}


def engine_name(ruleset: Ruleset) -> str:
    """The name a ruleset is registered under: it carries the content's fingerprint."""
    return f"{ruleset.ruleset.name}-{ruleset.ruleset.version}-{ruleset.fingerprint}"


def compile_ruleset(ruleset: Ruleset) -> tuple[str, dict[str, Any]]:
    name = engine_name(ruleset)
    definition = {
        rule.id: {"all": [{"m": compile_condition(rule.when)}], "run": rule.id} for rule in ruleset.rules
    }
    definition[_CATCH_ALL] = {"all": [{"m": {_KIND_FIELD: _KIND}}], "run": _CATCH_ALL}
    return name, definition


class _Host(durable.Host):
    """Resolves every action to a recorder: actions only note which rule fired, nothing else."""

    def __init__(self) -> None:
        self.fired: list[str] = []
        super().__init__()

    def get_action(self, action_name: str):
        def record(_context: Any) -> None:
            self.fired.append(action_name)

        return record


_lock = threading.Lock()
_host: _Host | None = None
_registered: set[str] = set()
_sids = itertools.count(1)


def started() -> bool:
    """Whether this process runs durable's host (and so its timer threads): forking a process
    that has threads can deadlock the child, so callers that fork must check this."""
    return _host is not None


def _ensure_registered(ruleset: Ruleset) -> str:
    global _host
    name = engine_name(ruleset)  # cheap: the fingerprint is cached on the ruleset
    if _host is None:
        _host = _Host()
    if name not in _registered:
        # Compile only on first use: recompiling every rule per evaluation cost ~40 us per intake.
        _, definition = compile_ruleset(ruleset)
        # set_rulesets mutates what it is given (it deletes "run").
        _host.set_rulesets({name: copy.deepcopy(definition)})
        _registered.add(name)
    return name


def fire(ruleset: Ruleset, fact: dict[str, str]) -> list[str]:
    """Assert one fact and return the ids of the rules that fired, in ruleset order."""
    with _lock:
        name = _ensure_registered(ruleset)
        sid = f"e{next(_sids)}"
        _host.fired = []
        handled = False
        try:
            _host.assert_fact(name, {**fact, _KIND_FIELD: _KIND, "sid": sid})
            handled = True
            state = _host.get_state(name, sid)
            if "exception" in state:
                raise EngineError(f"a rule action failed inside the engine: {state['exception']}")
        except EngineError:
            raise
        except Exception as error:  # durable raises bare Exceptions with C error codes
            raise EngineError(f"the rules engine failed: {error}") from None
        finally:
            if handled:  # delete_state on an unhandled fact's sid segfaults
                _host.delete_state(name, sid)
        fired = set(_host.fired)
    return [rule.id for rule in ruleset.rules if rule.id in fired]
