"""The export document of one recorded intake (what `triage export` renders as json, markdown, html
or fhir), and its de-identified form (HIPAA Safe Harbor). Domain core: plain Python.

De-identification works on fields, never on text: it never searches the content for the patient
reference (a reference such as "yes" or "L3-L4" would otherwise erase clinical values). It
- drops the identifying fields: the patient reference (the only free-text answer; from the answers
  and from the inputs the rules' trace lists), the intake id, version history, who recorded it and
  the content hash (which would link the export back to the store);
- reduces every date to its year: the date answers (``DATE_FIELDS``), the result's assessment date,
  the recorded timestamp, and the dates the tool itself wrote into its sentences (reasons such as
  "an MRI dated 2026-08-14");
- drops months since fusion (with the year of the assessment it gives the month of surgery back).
Every other value (each answer, status, red flag, level, step, reason) is kept exactly as recorded;
tests/records/test_export.py checks this for any patient reference.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from triage.records.store import Record, VersionInfo

IDENTIFYING_FIELDS = ("patient_id",)
DATE_FIELDS = ("assessment_date", "fusion_date", "mri_date")
# A date or timestamp the tool wrote: 2024-03, 2024-03-05, 2024-03-05T10:00:00Z -> its year.
_DATE = re.compile(r"\b([0-9]{4})-(?:0[1-9]|1[0-2])(?:-[0-9]{2}(?:T[0-9:.]+(?:Z|[+-][0-9]{2}:[0-9]{2})?)?)?\b")


def year_only(text: str) -> str:
    return _DATE.sub(lambda match: match.group(1), text)


def _years_in_text(value: Any) -> Any:
    """Dates inside the tool's own sentences (the result's texts; no answer is free text here)."""
    if isinstance(value, str):
        return year_only(value)
    if isinstance(value, list):
        return [_years_in_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _years_in_text(item) for key, item in value.items()}
    return value


def _fields(answers: dict[str, Any]) -> dict[str, Any]:
    """Answers (or a rule's inputs) with identifying fields dropped and date fields cut to the year."""
    kept = {}
    for key, value in answers.items():
        if key in IDENTIFYING_FIELDS:
            continue
        if key in DATE_FIELDS and isinstance(value, str) and value != "unknown":
            value = value[:4]
        kept[key] = value
    return kept


def deidentify_answers(answers: dict[str, Any]) -> dict[str, Any]:
    return _fields(answers)


def deidentify_result(result: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(result)
    result["months_since_fusion"] = None
    for entry in result.get("trace", []):
        if isinstance(entry.get("inputs"), dict):
            entry["inputs"] = _fields(entry["inputs"])
    return _years_in_text(result)


def document(record: Record, history: list[VersionInfo], *, deidentify: bool, requests=(),
             changes: dict[int, list[dict[str, Any]]] | None = None, files=()) -> dict[str, Any]:
    """The json export: the recorded version with its answers, result and provenance, and the intake's
    record requests with their dates (triage.records.requests; never in a de-identified export: they name people
    and days), and the record files kept (``files``: their names, sizes and hashes; never the bytes, and
    never in a de-identified export)."""
    if deidentify:
        return {
            "deidentified": True,
            "recorded_year": record.recorded_at[:4],
            "source": record.source,
            "ruleset": record.ruleset,
            **({"language": record.language} if record.language else {}),  # not identifying
            "answers": deidentify_answers(record.answers),
            "result": deidentify_result(record.result),
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
        **({"language": record.language} if record.language else {}),
        "answers": record.answers,
        "result": record.result,
        "versions": [{key: value for key, value in vars(info).items() if key != "patient_changed"} for info in history],
        **({"record_requests": _requests(requests, changes or {})} if requests else {}),
        **({"record_files": [file_json(file) for file in files]} if files else {}),
    }


def file_json(file) -> dict[str, Any]:
    """A kept record file (triage.records.store.RecordFile) without its bytes."""
    return {key: getattr(file, key) for key in ("id", "item", "filename", "media_type", "size", "sha256", "pages",
                                                 "added_at", "added_by", "channel")}


def _requests(requests, changes: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    from triage.records.requests import requests_json

    return requests_json(list(requests), changes)
