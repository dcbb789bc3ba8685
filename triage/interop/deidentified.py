"""Assessing de-identified answers, whose dates are known only to the year (`triage export --format
fhir --deidentify`, HIPAA Safe Harbor). Domain core: plain Python.

A year is not a month: reading it as any one month would invent data, and could move a patient in or
out of the healing window. So the answers are assessed under every reading of their years (each date
field at the first and at the last month of its year; the assessment date on the first and on the
last day of its year), impossible readings (a date after the assessment) left out:

- when every reading gives the same status, urgency and missing items, the years alone decide it
  and that is the result, as for the original intake (its months were only ever read within them);
- otherwise the result is the most cautious reading (the first status in the contract's order:
  urgent, too_early, records_needed, ready_for_evaluation), and the intervals that the years could
  not decide are named (the healing window; the MRI's currency), so nobody takes it for the
  original's.

Red flags and their tiers never depend on dates: a de-identified export keeps its urgency exactly.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from triage.core.answers import Answers, parse_answers
from triage.decision.assess import assess_data
from triage.core.errors import InvalidInput
from triage.records.export import deidentify_result
from triage.core.result_values import Status
from triage.core.ruleset import Ruleset
from triage.core.settings import Settings

_YEAR = re.compile(r"^[0-9]{4}$")
_ENDS = {"assessment_date": ("-01-01", "-12-31"), "fusion_date": ("-01", "-12"), "mri_date": ("-01", "-12")}
STATUS_ORDER = [status.value for status in Status]


@dataclass(frozen=True)
class YearOnlyAssessment:
    result: dict[str, Any]  # the result contract, its dates cut to the year again
    answers: dict[str, Any]  # the answers as given (years)
    undecided: list[str]  # the intervals the years alone could not decide, in words; [] = decided


def year_only_fields(raw: dict[str, Any]) -> dict[str, str]:
    """The date answers given as a year alone."""
    return {field: raw[field] for field in _ENDS if isinstance(raw.get(field), str) and _YEAR.match(raw[field])}


def assess_years(raw: dict[str, Any], ruleset: Ruleset, settings: Settings, *, today: date) -> YearOnlyAssessment:
    years = year_only_fields(raw)
    fields = sorted(years)
    outcomes: list[tuple[dict[str, Any], Answers]] = []
    first_error: InvalidInput | None = None
    for ends in itertools.product(*(_ENDS[field] for field in fields)):
        reading = {**raw, **{field: years[field] + end for field, end in zip(fields, ends)}}
        try:
            answers = parse_answers(reading, today=today)
        except InvalidInput as error:  # e.g. an MRI in December read against an assessment on January 1
            first_error = first_error or error
            continue
        outcomes.append((assess_data(answers, ruleset, settings), answers))
    if not outcomes:
        raise first_error or InvalidInput([])
    verdicts = [_verdict(result) for result, _ in outcomes]
    cautious, _ = min(outcomes, key=lambda outcome: STATUS_ORDER.index(outcome[0]["status"]))
    undecided = []
    if len(set(verdicts)) > 1:
        if len({"too_early" == result["status"] for result, _ in outcomes}) > 1:
            undecided.append(f"the healing window (fusion {years.get('fusion_date', raw.get('fusion_date'))}, "
                             f"assessment {years.get('assessment_date', raw.get('assessment_date'))})")
        if len({"current_mri" in _missing(result) for result, _ in outcomes}) > 1:
            undecided.append(f"whether the MRI is current (MRI {raw.get('mri_date')}, fusion {raw.get('fusion_date')}, "
                             f"assessment {raw.get('assessment_date')})")
        if not undecided:
            undecided.append("intervals between the dates (known only to the year)")
    return YearOnlyAssessment(deidentify_result(cautious), dict(raw), undecided)


def _missing(result: dict[str, Any]) -> frozenset[str]:
    return frozenset(item["id"] for item in result["missing_items"])


def _verdict(result: dict[str, Any]) -> tuple:
    return result["status"], result["physician_consult"]["urgency"], _missing(result)
