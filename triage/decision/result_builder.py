"""The result, built from the answers, the derived facts and the fired rules.

Read it beside PRODUCT.md, "Result: the output contract" and "The rules, precisely". The rules decide;
this module only collects what the fired rules concluded, field by field:

- ``status``: the first of urgent, too_early, records_needed, ready_for_evaluation that a fired rule
  concluded;
- ``physician_consult``: always recommended; its urgency is the highest tier a fired rule concluded
  (routine when no red flag was answered yes), with that tier's message;
- ``red_flags``: the red-flag questions whose rule fired, in questionnaire order;
- ``missing_items``: each item some fired rule found missing, in the rules file's order, its reasons
  joined;
- ``steps``: for each of the four steps, the most pressing status a fired rule concluded
  (attention > to_do > done > not_applicable), with the reasons of the rules that concluded it;
- ``discussion_points``: each point some fired rule raised, in the rules file's order: the unfused
  tear levels on regenerative care, the criteria and the coordinator's to-do on VA community care;
- the values the result reports (adjacent levels, months since fusion, the assessment date), the
  ruleset and settings used, one trace entry per fired rule, and the disclaimer.

Every text is a template of the rules file put in words with this intake's values (``text_values``).
The keys are in the order of the ``Result`` model (triage/decision/result.py), which is the contract's order
except that ``assessment_date`` comes before ``ruleset``: the bytes of every result ever written
depend on it.

Nothing here checks the result: triage/decision/assess.py refuses one that breaks a safety invariant. The
batch makes the same bytes from kept JSON templates (triage/decision/batch_json.py), and proves it against this
module on each template it makes.
"""

from __future__ import annotations

from typing import Any

from triage.core.answers import RED_FLAGS, Answers
from triage.core.errors import EngineError
from triage.core.facts import Derived, TextValues
from triage.core.result_values import STATUS_ORDER, STEP_STATUS_ORDER, URGENCY_ORDER, Status, StepStatus, VaCriterion, VaToDo
from triage.core.ruleset import Rule, Ruleset
from triage.core.settings import Settings


def build_result(answers: Answers, derived: Derived, fired: list[Rule], ruleset: Ruleset,
                 settings: Settings) -> dict[str, Any]:
    """The result contract as plain JSON data for the rules that fired, in ruleset order."""
    urgency = consult_urgency(fired)
    va_criteria, va_to_do = va_conclusions(fired)
    values = text_values(derived, va_criteria, va_to_do, ruleset)

    def words(template: str) -> str:
        return template.format_map(values)

    discussion_points = []
    for key, text in raised_discussion_points(fired, ruleset):
        point: dict[str, Any] = {"id": key}
        if key == "va_community_care":
            point["criteria"], point["to_do"] = va_criteria, va_to_do
        elif text.levels_from:
            point["levels"] = list(getattr(derived, text.levels_from))
        point["text"] = words(text.text)
        discussion_points.append(point)

    return {
        "status": result_status(fired).value,
        "physician_consult": {"recommended": True, "urgency": urgency,
                              "message": words(ruleset.messages.consult(urgency))},
        "red_flags": red_flags(fired),
        "missing_items": [{"id": key, "label": label, "reason": " ".join(words(reason) for reason in reasons)}
                          for key, label, reasons in missing_items(fired, ruleset)],
        "steps": [{"step": number, "title": title, "status": status.value, "reasons": [words(r) for r in reasons]}
                  for number, title, status, reasons in steps(fired, ruleset)],
        "discussion_points": discussion_points,
        "adjacent_levels": list(derived.adjacent_levels),
        "months_since_fusion": derived.months_since_fusion,
        "assessment_date": str(answers.assessment_date),
        "ruleset": {"name": ruleset.ruleset.name, "version": ruleset.ruleset.version},
        "settings": dict(settings.json_data),
        "trace": [trace_entry(rule, answers, derived.fact, settings, values) for rule in fired],
        "disclaimer": words(ruleset.messages.disclaimer),
    }


# --- what the fired rules concluded, field by field (the batch's templates use the same) -----------

def result_status(fired: list[Rule]) -> Status:
    statuses = {rule.then.status for rule in fired if rule.then.status}
    if not statuses:
        raise EngineError("no rule concluded a status and a consult; refusing to give a result")
    return next(s for s in STATUS_ORDER if s in statuses)


def consult_urgency(fired: list[Rule]) -> str:
    urgencies = {rule.then.consult for rule in fired if rule.then.consult}
    if not urgencies:
        raise EngineError("no rule concluded a status and a consult; refusing to give a result")
    return next(u for u in URGENCY_ORDER if u in urgencies)  # the highest tier that fired


def red_flags(fired: list[Rule]) -> list[str]:
    concluded = {rule.then.red_flag for rule in fired}
    return [q for q in RED_FLAGS if q in concluded]


def missing_items(fired: list[Rule], ruleset: Ruleset) -> list[tuple[str, str, list[str]]]:
    """(id, label, the reasons' templates) of each missing item, in the rules file's order."""
    return [(key, text.label, [rule.then.reason for rule in fired if rule.then.missing == key])
            for key, text in ruleset.missing_items.items()
            if any(rule.then.missing == key for rule in fired)]


def steps(fired: list[Rule], ruleset: Ruleset) -> list[tuple[int, str, StepStatus, list[str]]]:
    """(number, title, status, the reasons' templates) of the four steps."""
    chosen_steps = []
    for number in range(1, 5):
        concluded = [(rule.then.step_status, rule.then.reason) for rule in fired
                     if rule.step == number and rule.then.step_status]
        if not concluded:
            raise EngineError(f"no rule concluded step {number}; refusing to give a result")
        status = next(s for s in STEP_STATUS_ORDER if any(c == s for c, _ in concluded))
        chosen_steps.append((number, ruleset.steps[str(number)].title, status,
                             [reason for c, reason in concluded if c == status]))
    return chosen_steps


def raised_discussion_points(fired: list[Rule], ruleset: Ruleset) -> list[tuple[str, Any]]:
    """(id, its text definition) of each point a fired rule raised, in the rules file's order."""
    raised = {rule.then.discussion for rule in fired if rule.then.discussion}
    return [(key, text) for key, text in ruleset.discussion_points.items() if key in raised]


def va_conclusions(fired: list[Rule]) -> tuple[list[str], list[str]]:
    """The veterans' pre-screen: the criteria that may apply and the paperwork, in the contract's order."""
    concluded = {rule.then.va_criterion for rule in fired} | {rule.then.va_to_do for rule in fired}
    return [c for c in VaCriterion.__args__ if c in concluded], [t for t in VaToDo.__args__ if t in concluded]


def text_values(derived: Derived, va_criteria: list[str], va_to_do: list[str], ruleset: Ruleset) -> TextValues:
    """The placeholders of this result's texts: the derived ones, the answers (put in words when a text
    names one), ``levels`` (the unfused tear levels), ``va_criteria`` and ``va_to_do`` in words."""
    values = derived.text_values.with_values(levels=", ".join(derived.unfused_tear_levels))
    values["va_criteria"] = "; ".join(ruleset.va_criteria[c].format_map(values)
                                      for c in va_criteria) or "none known from the answers"
    values["va_to_do"] = "; ".join(ruleset.va_to_do[t].format_map(values) for t in va_to_do) or "none"
    return values


def trace_entry(rule: Rule, answers: Answers, fact: dict[str, str], settings: Settings,
                values: TextValues) -> dict[str, Any]:
    """Why a line of the result is there: the rule, what it concluded, the answers it read (as given),
    the facts its condition tested and the clinic settings those depend on."""
    return {
        "rule": rule.id,
        "version": rule.version,
        "title": rule.title,
        "step": rule.step,
        "source": rule.source,
        "concluded": rule.then.as_dict(),
        "reason": rule.then.reason.format_map(values),
        "inputs": {name: answers.as_json(name) for name in rule.reads},
        "facts": {name: fact[name] for name in rule.when.facts_used()},
        "settings": {name: _plain(getattr(settings, name)) for name in rule.settings_used},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
