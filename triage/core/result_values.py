"""The values a result's fields can take (the result contract, PRODUCT.md): statuses, step statuses,
urgency tiers, and the ids of missing items, discussion points and VA items.

Plain Python, no pydantic: the commands that print a result's data as it is (`triage assess --format
json`, `triage list`) read these without building the result models (triage/decision/result.py).
"""

from __future__ import annotations

from enum import Enum
from typing import Literal, get_args


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
