"""The result contract (PRODUCT.md, ``--format json``) as pydantic models, for the channels that render
a result. Plain pydantic, no engine, no terminal. The values its fields take are triage/core/result_values.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer

from triage.core.result_values import DiscussionId, MissingId, Status, StepStatus, Urgency, VaCriterion, VaToDo


class _Model(BaseModel):
    # defer_build: `triage assess --format json` prints the result's data without building these models.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class PhysicianConsult(_Model):
    recommended: Literal[True] = True  # a result cannot exist without recommending the consult
    urgency: Urgency
    message: str


class MissingItem(_Model):
    id: MissingId
    label: str
    reason: str


class Step(_Model):
    step: int
    title: str
    status: StepStatus
    reasons: list[str]


class DiscussionPoint(_Model):
    id: DiscussionId
    levels: list[str] | None = None  # only on points about levels (regenerative_care)
    criteria: list[VaCriterion] | None = None  # only on va_community_care
    to_do: list[VaToDo] | None = None  # only on va_community_care
    text: str

    @model_serializer(mode="wrap")
    def _omit_absent_fields(self, handler):
        data = handler(self)
        for name in ("levels", "criteria", "to_do"):
            if data.get(name) is None:
                data.pop(name, None)
        return data


class RulesetRef(_Model):
    name: str
    version: str


class TraceEntry(_Model):
    rule: str
    version: int
    title: str
    step: int | None
    source: str
    concluded: dict[str, Any]
    reason: str
    inputs: dict[str, Any]  # answer fields the rule reads, as given (null = not answered)
    facts: dict[str, str]  # derived facts its condition tested, with their values
    settings: dict[str, Any]  # clinic settings those facts depend on


class Result(_Model):
    status: Status
    physician_consult: PhysicianConsult
    red_flags: list[str]
    missing_items: list[MissingItem]
    steps: list[Step]
    discussion_points: list[DiscussionPoint]
    adjacent_levels: list[str]
    months_since_fusion: int | None
    assessment_date: str
    ruleset: RulesetRef
    settings: dict[str, Any]
    trace: list[TraceEntry]
    disclaimer: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
