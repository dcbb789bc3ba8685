"""De-identification works on fields: for any patient reference, the de-identified export keeps the
same clinical content as the original (dates reduced to the year), and the reference is gone."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support.strategies import answers
from triage.core.answers import parse_answers
from triage.decision.assess import assess
from triage.records.export import DATE_FIELDS, document
from triage.core.ruleset import load_ruleset
from triage.core.safe_text import unsafe_character
from triage.core.settings import load_settings
from triage.records.store import Record

RULESET = load_ruleset()
SETTINGS = load_settings()
TODAY = date(2026, 11, 24)

# What a person may type as a reference: any text the answers contract accepts.
references = st.text(min_size=1, max_size=40).filter(lambda text: text.strip() and not unsafe_character(text))


def record(raw: dict) -> Record:
    parsed = parse_answers(raw, today=TODAY)
    answers, result = parsed.answered(), assess(parsed, RULESET, SETTINGS).to_json()
    return Record(7, 2, "2026-11-24T10:11:12Z", "nurse-jane", "file", answers, result, result["status"],
                  answers.get("patient_id"), dict(result["ruleset"]), result["settings"], "0" * 64)


def clinical(result: dict) -> dict:
    """Everything clinical a result says (what de-identification must never change)."""
    return {
        "status": result["status"], "red_flags": result["red_flags"], "consult": result["physician_consult"],
        "missing": [(item["id"], item["label"]) for item in result["missing_items"]],
        "steps": [(step["step"], step["status"]) for step in result["steps"]],
        "points": [{key: value for key, value in point.items() if key != "text"} for point in result["discussion_points"]],
        "adjacent_levels": result["adjacent_levels"], "ruleset": result["ruleset"],
        "rules": [entry["rule"] for entry in result["trace"]],
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=answers(), reference=references)
# References equal to clinical values: the old text search erased these wherever they appeared.
@example(raw={"red_flag_major_trauma": "yes", "fused_levels": ["L4-L5"], "annular_tear_levels": ["L3-L4"],
              "pain_location": "back", "veteran": "yes", "fusion_date": "2024-03"}, reference="yes")
@example(raw={"fused_levels": ["L4-L5"], "annular_tear_levels": ["L3-L4"], "mri_available": "yes"},
         reference="L3-L4")
@example(raw={"fusion_date": "2024-03", "mri_date": "2026-01"}, reference="2024")
@example(raw={"pain_location": "back", "pain_quality": ["burning"]}, reference="back")
@example(raw={"red_flag_bladder_bowel": "unknown"}, reference="unknown")
@example(raw={"pain_score": 7}, reference="7")
@example(raw={"hardware_problem_known": "yes"}, reference="structural_review")
def test_deidentified_export_keeps_every_clinical_value_for_any_reference(raw, reference):
    original = record({**raw, "patient_id": reference})
    without = record({key: value for key, value in raw.items() if key != "patient_id"})
    doc = document(original, [], deidentify=True)

    expected_answers = {key: (value[:4] if key in DATE_FIELDS and value != "unknown" else value)
                        for key, value in original.answers.items() if key != "patient_id"}
    assert doc["answers"] == expected_answers
    assert clinical(doc["result"]) == clinical(original.result)
    # The reference changes nothing: the same export as the same answers without one.
    assert doc == document(without, [], deidentify=True)
    assert "patient_id" not in doc["answers"]
    assert all("patient_id" not in entry["inputs"] for entry in doc["result"]["trace"])
    assert "intake_id" not in doc and "recorded_by" not in doc and "content_sha256" not in doc
    assert doc["result"]["months_since_fusion"] is None
