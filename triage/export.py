"""The export document of one recorded intake (what `triage export` renders as json, markdown, html
or fhir), and its de-identified form (HIPAA Safe Harbor). Domain core: plain Python.

De-identification removes every identifier this tool holds and reduces every date to its year:
- the patient reference, and any text that repeats it;
- the intake id, version numbers' timestamps and who recorded them (staff names, audit pointers);
- every date and timestamp (assessment, fusion, MRI, recorded, healing-window end, MRI currency
  start) to its year, in fields and inside sentences;
- months since fusion (with the year of the assessment it gives the month of surgery back).
What remains is clinical content: answers to the questions, the result and the rules behind it.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from triage.store import Record, VersionInfo

# A date or timestamp anywhere in text: 2024, 2024-03, 2024-03-05, 2024-03-05T10:00:00Z -> its year.
_DATE = re.compile(r"\b(\d{4})-(?:0[1-9]|1[0-2])(?:-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)?\b")
REMOVED = "[removed]"


def year_only(text: str) -> str:
    return _DATE.sub(lambda match: match.group(1), text)


def _scrub(value: Any, patient_id: str | None) -> Any:
    if isinstance(value, str):
        # Whole-token match, and not for tiny references that would mangle ordinary numbers.
        if patient_id and len(patient_id) >= 3:
            value = re.sub(rf"(?<!\w){re.escape(patient_id)}(?!\w)", REMOVED, value)
        return year_only(value)
    if isinstance(value, list):
        return [_scrub(item, patient_id) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item, patient_id) for key, item in value.items()}
    return value


def deidentify_answers(answers: dict[str, Any]) -> dict[str, Any]:
    patient_id = answers.get("patient_id")
    kept = {key: value for key, value in answers.items() if key != "patient_id"}
    return _scrub(kept, patient_id)


def deidentify_result(result: dict[str, Any], patient_id: str | None) -> dict[str, Any]:
    result = copy.deepcopy(result)
    result["months_since_fusion"] = None
    for entry in result.get("trace", []):
        entry.get("inputs", {}).pop("patient_id", None)
    return _scrub(result, patient_id)


def document(record: Record, history: list[VersionInfo], *, deidentify: bool) -> dict[str, Any]:
    """The json export: the recorded version with its answers, result and provenance."""
    if deidentify:
        return {
            "deidentified": True,
            "recorded_year": record.recorded_at[:4],
            "source": record.source,
            "ruleset": record.ruleset,
            "answers": deidentify_answers(record.answers),
            "result": deidentify_result(record.result, record.answers.get("patient_id")),
        }
    return {
        "deidentified": False,
        "intake_id": record.intake_id,
        "version": record.version,
        "recorded_at": record.recorded_at,
        "recorded_by": record.recorded_by,
        "source": record.source,
        "ruleset": record.ruleset,
        "content_sha256": record.content_sha256,
        "answers": record.answers,
        "result": record.result,
        "versions": [vars(info) for info in history],
    }
