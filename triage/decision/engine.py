"""The durable_rules adapter: the only module that imports durable.

durable_rules 2.0.28 crashes the process when misused, so every call follows the same discipline:
- one ``Host`` per process, created on first use, that runs no thread of its own: durable's
  ``Host.__init__`` starts two timer chains that dispatch pending actions of any session every 0.2 s,
  outside our lock; on a slow foreground they took the actions of the evaluation in progress, which
  then lost rules, and failed with error 307 when we deleted the session under them. We use no
  timers and no events, so nothing needs dispatching: ``_run`` does nothing;
- rulesets registered once, under a name that carries the definition's fingerprint;
- one merged fact per evaluation, asserted (not posted) so every matching rule fires;
- a fresh sid per evaluation, and ``delete_state`` afterwards (live sids are capped at 1024);
- a catch-all rule, so no fact is ever unhandled (an unhandled fact makes ``delete_state`` segfault);
- an action is recorded only for the session being evaluated, on the thread evaluating it; any other
  action, and anything durable logs, fails the evaluation (fail closed, never guessed);
- action exceptions, which durable swallows into the session state, are raised;
- one lock around every engine call: durable has no locking and segfaults under threads.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

from durable import engine as durable

from triage.core.errors import EngineError
from triage.core.ruleset import Condition, Ruleset

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


class _Evaluation:
    """One evaluation in progress: the only session and thread whose actions count."""

    __slots__ = ("sid", "thread", "fired")

    def __init__(self, sid: str, thread: int) -> None:
        self.sid, self.thread = sid, thread
        self.fired: set[str] = set()


class _Host(durable.Host):
    """Runs no thread, and resolves every action to a recorder that only notes which rule fired."""

    def __init__(self) -> None:
        self.evaluation: _Evaluation | None = None
        self.problems: list[str] = []  # actions out of place and durable's log records, until read
        super().__init__()

    def _run(self) -> None:
        """durable starts its dispatcher and timer threads here; see the module docstring."""

    def get_action(self, action_name: str):
        def record(context: Any) -> None:
            evaluation, sid = self.evaluation, context.s.sid
            if evaluation is None or sid != evaluation.sid or threading.get_ident() != evaluation.thread:
                self.problems.append(f"rule {action_name} fired for another evaluation (session {sid})")
                return
            evaluation.fired.add(action_name)

        return record


class _Collect(logging.Handler):
    """durable logs action failures (with a traceback) instead of raising them: each record fails the
    evaluation, and nothing reaches standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        if _host is not None:
            _host.problems.append(f"durable reported: {record.getMessage().splitlines()[0][:300]}")


_logger = logging.getLogger(durable.__name__.split(".")[0])
_logger.addHandler(_Collect())
_logger.propagate = False  # its records are ours to judge, not the root logger's to print

_lock = threading.Lock()
_host: _Host | None = None
_registered: set[str] = set()
_sids = itertools.count(1)


def started() -> bool:
    """Whether this process has created durable's host (kept for callers that decide whether to fork;
    the host itself runs no thread)."""
    return _host is not None


def _ensure_registered(ruleset: Ruleset) -> str:
    global _host
    name = engine_name(ruleset)  # cheap: the fingerprint is cached on the ruleset
    if _host is None:
        _host = _Host()
    if name not in _registered:
        # Compile only on first use: recompiling every rule per evaluation cost ~40 us per intake.
        # A fresh definition: set_rulesets mutates what it is given (it deletes "run").
        _host.set_rulesets({name: compile_ruleset(ruleset)[1]})
        _registered.add(name)
    return name


def fire(ruleset: Ruleset, fact: dict[str, str]) -> list[str]:
    """Assert one fact and return the ids of the rules that fired, in ruleset order."""
    with _lock:
        name = _ensure_registered(ruleset)
        evaluation = _Evaluation(sid=f"e{next(_sids)}", thread=threading.get_ident())
        _host.evaluation = evaluation
        handled = False
        try:
            _host.assert_fact(name, {**fact, _KIND_FIELD: _KIND, "sid": evaluation.sid})
            handled = True
            state = _host.get_state(name, evaluation.sid)
            if "exception" in state:
                raise EngineError(f"a rule action failed inside the engine: {state['exception']}")
        except EngineError:
            raise
        except Exception as error:  # durable raises bare Exceptions with C error codes
            raise EngineError(f"the rules engine failed: {error}") from None
        finally:
            _host.evaluation = None
            if handled:  # delete_state on an unhandled fact's sid segfaults
                _host.delete_state(name, evaluation.sid)
            problems, _host.problems = _host.problems, []
        if problems:
            raise EngineError(f"the rules engine misbehaved: {problems[0]}")
    return [rule.id for rule in ruleset.rules if rule.id in evaluation.fired]
