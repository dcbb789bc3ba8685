"""De-identified exports that are still valid (issue 26 item 4): `triage export ID --format fhir
--deidentify` conforms to the Questionnaire it names (the date entry allows a year; the response is
labelled anonymized), and `triage assess` reads it back: the same status and tier as the original when
the years alone decide it, otherwise the most cautious reading with the undecided intervals named."""

from __future__ import annotations

import json
import re

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse

from conftest import ROOT, run_cli
from triage.interop import fhir
from triage.core.questionnaire import load_questionnaire

EXAMPLE = json.loads((ROOT / "examples" / "adjacent-tear.json").read_text(encoding="utf-8"))
QUESTIONNAIRE = load_questionnaire()


@pytest.fixture
def exported(tmp_path, monkeypatch):
    """Record these answers, export them de-identified, and give (original result, response path)."""
    monkeypatch.setenv("TRIAGE_DB", str(tmp_path / "t.db"))

    def export(answers: dict):
        source = tmp_path / f"answers-{len(list(tmp_path.glob('answers-*')))}.json"
        source.write_text(json.dumps(answers), encoding="utf-8")
        saved = run_cli("assess", str(source), "--save", "--format", "json")
        assert saved.code == 0, saved.err
        intake = int(re.search(r"intake (\d+)", saved.err).group(1))
        out = run_cli("export", str(intake), "--format", "fhir", "--deidentify")
        assert out.code == 0, out.err
        path = tmp_path / f"deidentified-{intake}.json"
        path.write_text(out.out, encoding="utf-8")
        return saved.json, path
    return export


def _items(items: list) -> dict:
    found = {}
    for item in items:
        found[item["linkId"]] = item
        found.update(_items(item.get("item", [])))
    return found


def test_the_deidentified_response_conforms_to_the_questionnaire_it_names(exported):
    _, path = exported(EXAMPLE)
    response = json.loads(path.read_text(encoding="utf-8"))
    FhirResponse.model_validate(response)
    questionnaire = fhir.questionnaire_resource(QUESTIONNAIRE)
    assert response["questionnaire"] == f"{questionnaire['url']}|{questionnaire['version']}"
    assert fhir.DEIDENTIFIED in response["meta"]["security"] and "subject" not in response
    defined, given = _items(questionnaire["item"]), _items(response["item"])
    checked = 0
    for link, entry in given.items():
        for answer in entry.get("answer", []):
            if "valueString" in answer:
                pattern = next((e["valueString"] for e in defined[link].get("extension", []) if e["url"] == fhir.REGEX),
                               None)
                if pattern:
                    assert re.fullmatch(pattern, answer["valueString"]), (link, answer)
                    checked += 1
            if "valueDate" in answer:
                assert defined[link]["type"] == "date" and re.fullmatch(r"[0-9]{4}", answer["valueDate"])
    assert checked == 2  # the fusion and the MRI: years, which the date entry allows


def test_assess_reads_it_back_with_the_same_status_and_tier_when_the_years_decide(exported):
    original, path = exported(EXAMPLE)  # fusion 2024, MRI and assessment 2026
    back = run_cli("assess", str(path), "--format", "json")
    assert back.code == 0, back.err
    assert (back.json["status"], back.json["physician_consult"]) == (original["status"], original["physician_consult"])
    assert [item["id"] for item in back.json["missing_items"]] == [item["id"] for item in original["missing_items"]]
    assert "the years decide every interval" in back.err
    assert back.json["months_since_fusion"] is None and "2026-" not in json.dumps(back.json)  # still years only
    text = run_cli("assess", str(path))
    assert text.code == 0 and "READY FOR EVALUATION" in text.out


def test_when_the_years_do_not_decide_the_interval_is_named_and_the_reading_is_cautious(exported):
    answers = {**EXAMPLE, "fusion_date": "2026-03", "mri_date": "2026-10-01"}  # fusion and assessment: 2026
    original, path = exported(answers)
    assert original["status"] == "ready_for_evaluation"  # March + 6 months is before November 24
    back = run_cli("assess", str(path), "--format", "json")
    assert back.code == 0, back.err
    assert back.json["status"] == "too_early"  # a fusion in December 2026 would be: the cautious reading
    assert back.json["physician_consult"]["urgency"] == original["physician_consult"]["urgency"]
    assert "could not be computed from years alone: the healing window (fusion 2026, assessment 2026)" in back.err
    assert "most cautious reading" in back.err


def test_a_red_flag_keeps_its_tier_whatever_the_years(exported):
    answers = {**EXAMPLE, "fusion_date": "2026-03", "red_flag_bladder_bowel": "yes"}
    original, path = exported(answers)
    back = run_cli("assess", str(path), "--format", "json")
    assert back.code == 0, back.err
    assert back.json["status"] == original["status"] == "urgent"
    assert back.json["physician_consult"] == original["physician_consult"]
    assert back.json["red_flags"] == ["red_flag_bladder_bowel"]


def test_a_deidentified_response_is_never_recorded(exported):
    _, path = exported(EXAMPLE)
    run = run_cli("assess", str(path), "--save")
    assert run.code == 2 and run.out == ""
    assert "--save: a de-identified response (dates to the year) cannot be recorded" in run.err


def test_a_patients_year_alone_in_an_identified_response_is_still_read_as_its_safer_month():
    response = fhir.response_resource(QUESTIONNAIRE, {"fusion_date": "2024-03", "assessment_date": "2026-11-24"})
    for item in _items(response["item"]).values():
        if item["linkId"] == "fusion_date.value":
            item["answer"] = [{"valueString": "2024"}]
    assert fhir.answers_from_response(response, QUESTIONNAIRE)["fusion_date"] == "2024-12"
