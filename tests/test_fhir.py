"""FHIR R4: `questions --format fhir` and `export --format fhir` validate with an outside library
(fhir.resources, R4B = FHIR 4.3, whose Questionnaire and QuestionnaireResponse match R4), every
linkId and answer code of a response exists in the Questionnaire (the library does not check that),
and `assess` reads a QuestionnaireResponse back to the same result."""

from __future__ import annotations

import json
import tomllib
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse

from conftest import ROOT, run_cli
from triage import fhir
from triage.answers import parse_answers
from triage.questionnaire import load_questionnaire

SCENARIOS = sorted((ROOT / "tests" / "data" / "scenarios" / "valid").glob("*.toml"))
TODAY = date(2026, 11, 24)


def scenario_answers(path: Path) -> dict:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))["answers"]
    return parse_answers(raw, today=TODAY).answered()


@pytest.fixture(scope="module")
def questionnaire():
    return load_questionnaire()


@pytest.fixture(scope="module")
def resource():
    run = run_cli("questions", "--format", "fhir")
    assert run.code == 0, run.err
    return run.json


def test_questionnaire_validates_and_mirrors_the_definition(resource, questionnaire):
    FhirQuestionnaire.model_validate(resource)
    info = questionnaire.questionnaire
    assert (resource["url"], resource["version"], resource["status"]) == (info.fhir_url, info.version, "active")
    items = {item["linkId"]: item for item in resource["item"]}
    assert list(items) == [item.id for item in questionnaire.items]
    assert all(item["required"] is False for item in items.values())
    assert items["pain_score"]["type"] == "integer" and items["fusion_date"]["type"] == "date"
    assert items["pain_quality"]["repeats"] is True
    assert [o["valueCoding"]["code"] for o in items["red_flag_major_trauma"]["answerOption"]] == ["yes", "no", "unknown"]
    assert items["mri_date"]["enableWhen"] == [{"question": "mri_available", "operator": "=",
                                                 "answerCoding": {"system": info.fhir_answer_system, "code": "yes",
                                                                  "display": "yes"}}]


def assert_matches_questionnaire(response: dict, resource: dict) -> None:
    """What the FHIR library leaves to a Questionnaire-aware validator."""
    items = {item["linkId"]: item for item in resource["item"]}
    assert response["questionnaire"] == f"{resource['url']}|{resource['version']}"
    for entry in response["item"]:
        item = items[entry["linkId"]]  # every linkId exists
        assert len(entry["answer"]) == 1 or item.get("repeats"), entry["linkId"]
        for answer in entry["answer"]:
            if "valueCoding" in answer:
                assert item["type"] == "choice"
                assert {"valueCoding": answer["valueCoding"]} in item["answerOption"], (entry["linkId"], answer)
            elif "valueDate" in answer or "_valueDate" in answer:
                assert item["type"] == "date"
            elif "valueInteger" in answer:
                assert item["type"] == "integer"
            else:
                assert item["type"] == "string" and "valueString" in answer


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_round_trips_through_a_valid_response(path, questionnaire, resource):
    answers = scenario_answers(path)
    response = fhir.response_resource(questionnaire, answers, authored="2026-11-24T10:00:00Z")
    FhirResponse.model_validate(response)
    assert_matches_questionnaire(response, resource)
    back = parse_answers(fhir.answers_from_response(response, questionnaire), today=TODAY).answered()
    if answers.get("pain_quality") == []:  # "none chosen" says no more than "not answered" here
        answers.pop("pain_quality")
    assert back == answers


def test_exported_response_validates_and_assess_reads_it_back(tmp_path, monkeypatch, resource):
    monkeypatch.setenv("TRIAGE_DB", str(tmp_path / "t.db"))
    example = ROOT / "examples" / "adjacent-tear.json"
    assert run_cli("assess", str(example), "--save").code == 0
    for deidentify in ((), ("--deidentify",)):
        exported = run_cli("export", "1", "--format", "fhir", *deidentify)
        assert exported.code == 0, exported.err
        FhirResponse.model_validate(exported.json)
        assert_matches_questionnaire(exported.json, resource)
    response_file = tmp_path / "response.json"
    response_file.write_text(run_cli("export", "1", "--format", "fhir").out)
    from_fhir = run_cli("assess", str(response_file), "--format", "json", "--save")
    from_answers = run_cli("assess", str(example), "--format", "json")
    assert from_fhir.code == 0, from_fhir.err
    assert from_fhir.json == from_answers.json
    assert run_cli("show", "2", "--format", "json").json["source"] == "fhir"


def test_unknown_date_uses_the_data_absent_reason(questionnaire, resource):
    response = fhir.response_resource(questionnaire, {"fusion_date": "unknown", "annular_tear_levels": []})
    FhirResponse.model_validate(response)
    assert_matches_questionnaire(response, resource)
    fusion, tears = response["item"]
    assert fusion["answer"] == [{"_valueDate": {"extension": [{"url": fhir.DATA_ABSENT_REASON, "valueCode": "unknown"}]}}]
    assert [a["valueCoding"]["code"] for a in tears["answer"]] == ["none"]
    assert fhir.answers_from_response(response, questionnaire) == {"fusion_date": "unknown", "annular_tear_levels": []}


def _response_file(tmp_path, questionnaire, changes: dict) -> str:
    response = fhir.response_resource(questionnaire, {"pain_score": 5, "veteran": "yes"})
    response.update(changes)
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(response))
    return str(path)


@pytest.mark.parametrize("changes, expected", [
    ({"questionnaire": "http://example.org/Questionnaire/phq-9|1.0"},
     "error: questionnaire: 'http://example.org/Questionnaire/phq-9|1.0' is not this tool's questionnaire"),
    ({"item": [{"linkId": "shoe_size", "answer": [{"valueInteger": 9}]}]},
     "error: shoe_size: is not a question of questionnaire fbss-intake"),
    ({"item": [{"linkId": "veteran", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA33-6"}}]}]},
     "error: veteran: code system 'http://loinc.org' is not this questionnaire's"),
    ({"item": [{"linkId": "pain_score", "answer": [{"valueString": "7"}]}]},
     "error: pain_score: the answer must be a valueInteger"),
    ({"item": [{"linkId": "pain_score", "answer": [{"valueInteger": 12}]}]}, "error: pain_score: 12 is outside 0 to 10"),
    ({"status": "entered-in-error"}, "error: status: 'entered-in-error' cannot be assessed"),
    ({"resourceType": "Patient"}, "error: resourceType: 'Patient' is not a QuestionnaireResponse"),
])
def test_foreign_or_wrong_responses_exit_2_naming_the_problem(tmp_path, questionnaire, changes, expected):
    run = run_cli("assess", _response_file(tmp_path, questionnaire, changes))
    assert run.code == 2 and run.out == ""
    assert run.err.splitlines()[0].startswith(expected), run.err
