"""The result contract (PRODUCT.md, ``--format json``). Plain pydantic, no engine, no terminal."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, model_serializer


class Status(str, Enum):
    """Declared in precedence order: the first that applies is the result's status."""

    urgent = "urgent"
    too_early = "too_early"
    records_needed = "records_needed"
    ready_for_evaluation = "ready_for_evaluation"


class StepStatus(str, Enum):
    """Declared from most to least cautious: when rules disagree on a step, the first wins."""

    attention = "attention"
    to_do = "to_do"
    done = "done"
    not_applicable = "not_applicable"


MissingId = Literal[
    "fusion_date", "fused_levels", "current_mri", "surgical_report", "symptom_pattern", "red_flag_screen"
]
DiscussionId = Literal["regenerative_care", "structural_review", "spinal_cord_stimulation", "va_community_care"]
Urgency = Literal["emergency", "same_day", "soon", "routine"]
URGENCY_ORDER: tuple[str, ...] = Urgency.__args__  # most urgent first: the highest tier fired wins
RED_FLAG_TIERS: tuple[str, ...] = URGENCY_ORDER[:-1]  # the tiers a red-flag question can have
# The tier in words for coordinators and clinicians: the same words in every view, so it is
# unmistakable without colour.
URGENCY_WORDS = {"emergency": "EMERGENCY", "same_day": "SAME DAY", "soon": "WITHIN DAYS", "routine": "routine"}
# The veterans' pre-screen (PRODUCT.md): criteria that may apply, and the coordinator's to-do, each
# declared in the order a result lists them.
VaCriterion = Literal["drive_time", "wait_time", "no_full_service_facility"]
VaToDo = Literal["confirm_enrollment", "request_va_referral", "authorization_before_visit"]
STATUS_ORDER = tuple(Status)
MISSING_IDS: tuple[str, ...] = get_args(MissingId)
# The worklist's order: the result statuses, then intakes that have only a draft so far.
WORKLIST_STATUSES: tuple[str, ...] = (*(status.value for status in Status), "draft")
STEP_STATUS_ORDER = tuple(StepStatus)


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
