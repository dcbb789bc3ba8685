"""Rule definitions as data: the models that validate ``rules/*.toml`` and the loader.

A condition is one of:
  ``{ fact = "mri_available", eq = "yes" }`` (also ``ne``, ``in = [...]``, ``not_in = [...]``),
  ``{ all = [condition, ...] }``, ``{ any = [condition, ...] }``, ``{ always = true }``.
Facts are the vocabulary of ``triage.core.facts.FACTS``; every value a condition names must be one the fact
can take, so a typo fails at load instead of silently never matching.
"""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation text
# when the module is imported (a millisecond of every command's start-up); Python does it for free.

import functools
import hashlib
import json
import string
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from triage.core.answers import QUESTION_IDS, RED_FLAGS
from triage.core.definitions import read_toml, shipped, validate
from triage.core.facts import FACTS
from triage.core.result_values import RED_FLAG_TIERS, DiscussionId, MissingId, Status, StepStatus, Urgency, VaCriterion, VaToDo

TEXT_PLACEHOLDERS = frozenset(
    {*QUESTION_IDS, "months_since_fusion", "healing_window_ends", "mri_currency_starts",
     "unfused_tear_levels", "adjacent_levels", "open_red_flags", "healing_window_months", "mri_currency_months",
     "clinic_name", "clinic_phone", "emergency_number", "levels",
     "va_drive_time_standard_minutes", "va_wait_standard_days", "va_no_full_service_facility_states",
     "va_no_full_service_facility_places", "va_criteria", "va_to_do"}
)


class _Definition(BaseModel):
    # defer_build: a ruleset kept validated between runs (triage.core.definition_cache) never needs its
    # validators built; a file read afresh builds them on first use.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _check_placeholders(text: str) -> str:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None and name not in TEXT_PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}} in {text!r}")
    return text


class Condition(_Definition):
    fact: str | None = None
    eq: str | None = None
    ne: str | None = None
    in_: tuple[str, ...] | None = Field(None, alias="in")
    not_in: tuple[str, ...] | None = None
    all: tuple["Condition", ...] | None = None
    any: tuple["Condition", ...] | None = None
    always: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> "Condition":
        tests = [name for name in ("eq", "ne", "in_", "not_in") if getattr(self, name) is not None]
        shapes = [name for name in ("all", "any", "always") if getattr(self, name) is not None]
        if self.fact is not None:
            shapes.append("fact")
        if len(shapes) != 1:
            raise ValueError("a condition is exactly one of: fact test, all, any, always")
        if self.fact is None:
            if tests:
                raise ValueError(f"{tests[0].rstrip('_')} needs a fact")
            if (self.all or self.any) == ():
                raise ValueError("all/any needs at least one condition")
            return self
        if self.fact not in FACTS:
            raise ValueError(f"unknown fact {self.fact!r}")
        if len(tests) != 1:
            raise ValueError(f"a test of {self.fact!r} needs exactly one of eq, ne, in, not_in")
        allowed = FACTS[self.fact].values
        for value in self.values():
            if value not in allowed:
                raise ValueError(f"{self.fact} is never {value!r} (it is one of {', '.join(allowed)})")
        return self

    def values(self) -> tuple[str, ...]:
        single = self.eq if self.eq is not None else self.ne
        return (single,) if single is not None else (self.in_ or self.not_in or ())

    def describe(self) -> str:
        """Plain reading for the catalogue: ``mri_available is yes AND mri_date_known is no``."""
        if self.always:
            return "always"
        if self.fact is None:
            joiner = " AND " if self.all is not None else " OR "
            parts = [child.describe() for child in self.all or self.any]
            return joiner.join(f"({part})" if " AND " in part or " OR " in part else part for part in parts)
        if self.eq is not None:
            return f"{self.fact} is {self.eq}"
        if self.ne is not None:
            return f"{self.fact} is not {self.ne}"
        if self.in_ is not None:
            return f"{self.fact} is {' or '.join(self.in_)}"
        return f"{self.fact} is neither {' nor '.join(self.not_in)}"

    def facts_used(self) -> list[str]:
        if self.fact:
            return [self.fact]
        used: list[str] = []
        for child in self.all or self.any or ():
            used += [name for name in child.facts_used() if name not in used]
        return used


class Conclusion(_Definition):
    reason: str
    status: Status | None = None
    consult: Urgency | None = None
    red_flag: str | None = None
    missing: MissingId | None = None
    step_status: StepStatus | None = None
    discussion: DiscussionId | None = None
    va_criterion: VaCriterion | None = None  # an eligibility criterion that may apply (VA decides)
    va_to_do: VaToDo | None = None  # paperwork for the coordinator

    _reason = field_validator("reason")(_check_placeholders)

    @field_validator("red_flag")
    @classmethod
    def _is_red_flag(cls, value: str | None) -> str | None:
        if value is not None and value not in RED_FLAGS:
            raise ValueError(f"{value!r} is not a red-flag question")
        return value

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(v, "value", v) for k, v in self if v is not None and k != "reason"}


class Rule(_Definition):
    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*-\d{2}$")
    version: int = Field(ge=1)
    title: str
    step: int | None = Field(None, ge=1, le=4)
    rationale: str
    source: str
    reads: tuple[str, ...]
    when: Condition
    then: Conclusion

    @model_validator(mode="after")
    def _consistent(self) -> "Rule":
        needed = {field for fact in self.when.facts_used() for field in FACTS[fact].reads}
        if set(self.reads) != needed:
            raise ValueError(
                f"reads must list exactly the answer fields its condition uses: {sorted(needed)}"
            )
        if self.then.step_status is not None and self.step is None:
            raise ValueError("a rule that concludes a step status must name its step")
        return self

    @property
    def settings_used(self) -> list[str]:
        return [s for fact in self.when.facts_used() for s in FACTS[fact].settings]


class Source(_Definition):
    title: str
    reference: str


class MissingItemText(_Definition):
    label: str  # for coordinators and clinicians
    to_bring: str  # plain words for the patient


class DiscussionText(_Definition):
    text: str
    levels_from: Literal["unfused_tear_levels"] | None = None
    _text = field_validator("text")(_check_placeholders)


class StepText(_Definition):
    title: str


class Messages(_Definition):
    """One consult message per urgency (coordinators and clinicians), and one instruction per red-flag
    tier: what a patient reads when their most urgent yes answer is of that tier."""

    consult_emergency: str
    consult_same_day: str
    consult_soon: str
    consult_routine: str
    instructions_emergency: str
    instructions_same_day: str
    instructions_soon: str
    bring_va_referral: str  # what a veteran holding a VA referral or authorization number is asked to bring
    disclaimer: str
    _placeholders = field_validator("*")(_check_placeholders)

    def consult(self, urgency: str) -> str:
        return getattr(self, f"consult_{urgency}")

    def instructions(self, tier: str) -> str:
        if tier not in RED_FLAG_TIERS:
            raise ValueError(f"no patient instructions for urgency {tier!r}")
        return getattr(self, f"instructions_{tier}")


class RulesetInfo(_Definition):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    title: str
    released: str
    validation_status: Literal["testing", "production"]


class Ruleset(_Definition):
    ruleset: RulesetInfo
    sources: dict[str, Source]
    steps: dict[Literal["1", "2", "3", "4"], StepText]
    missing_items: dict[MissingId, MissingItemText]
    discussion_points: dict[DiscussionId, DiscussionText]
    messages: Messages
    va_criteria: dict[VaCriterion, str]  # each criterion in words, for the va_community_care text
    va_to_do: dict[VaToDo, str]
    rules: tuple[Rule, ...]

    @field_validator("va_criteria", "va_to_do")
    @classmethod
    def _va_words(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            _check_placeholders(text)
        return value

    @model_validator(mode="after")
    def _complete(self) -> "Ruleset":
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule id {duplicates[0]}")
        for name, catalogue, contract in (
            ("steps", self.steps, ("1", "2", "3", "4")),
            ("missing_items", self.missing_items, MissingId.__args__),
            ("discussion_points", self.discussion_points, DiscussionId.__args__),
            ("va_criteria", self.va_criteria, VaCriterion.__args__),
            ("va_to_do", self.va_to_do, VaToDo.__args__),
        ):
            absent = [key for key in contract if key not in catalogue]
            if absent:
                raise ValueError(f"{name} has no entry for {absent[0]}")
        for rule in self.rules:
            if rule.source.split("#")[0] not in self.sources:
                raise ValueError(f"rule {rule.id}: source {rule.source!r} is not in [sources]")
        self._check_red_flag_tiers()
        return self

    def _check_red_flag_tiers(self) -> None:
        """Each red-flag question has exactly one rule, which fires on that question's yes alone and
        gives its tier; only such rules escalate the consult. So a question's tier is one line to
        review, and no other rule can raise or lower it."""
        for rule in self.rules:
            then = rule.then
            escalates = then.consult is not None and then.consult != "routine"
            if then.red_flag is None and not escalates:
                continue
            if then.red_flag is None or not escalates or then.status != Status.urgent:
                raise ValueError(f"rule {rule.id}: a red-flag rule names its question, an urgent status "
                                 f"and a tier ({', '.join(RED_FLAG_TIERS)}), all three")
            if rule.when.fact != then.red_flag or rule.when.eq != "yes":
                raise ValueError(f"rule {rule.id}: a red-flag rule fires on {then.red_flag} = yes, nothing else")
        for question in RED_FLAGS:
            count = sum(rule.then.red_flag == question for rule in self.rules)
            if count != 1:
                raise ValueError(f"red-flag question {question} needs exactly one rule, not {count}")

    def red_flag_tier(self, question: str) -> str:
        """The urgency tier of a red-flag question (emergency, same_day or soon)."""
        return next(rule.then.consult for rule in self.rules if rule.then.red_flag == question)

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the exact content, so two different definitions never share an engine name."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def model_copy(self, *, update=None, deep: bool = False) -> "Ruleset":
        # A cached fingerprint would describe the original: a changed copy must never share its
        # engine registration or cached trace parts.
        copied = super().model_copy(update=update, deep=deep)
        copied.__dict__.pop("fingerprint", None)
        return copied

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)


DEFAULT_RULESET = "fbss-triage.toml"


def load_ruleset(path: Path | None = None) -> Ruleset:
    """Read and validate a rules file; kept validated between runs (``triage.core.definition_cache``)."""
    from triage.core import definition_cache

    path = path or shipped("rules") / DEFAULT_RULESET
    return definition_cache.load(Ruleset, path, lambda: validate(Ruleset, read_toml(path), path))


@functools.cache
def shipped_red_flag_tiers() -> dict[str, str]:
    """Each red-flag question's urgency tier in the shipped rules file (for a question not answered
    yes, whose tier no result names: the store's alerts, "NOT ANSWERED - ask now")."""
    ruleset = load_ruleset()
    return {question: ruleset.red_flag_tier(question) for question in RED_FLAGS}
