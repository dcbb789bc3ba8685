"""FHIR R4 (SDC): `questions --format fhir` and `export --format fhir` validate with an outside library
(fhir.resources, R4B = FHIR 4.3, whose Questionnaire and QuestionnaireResponse match R4); every
response conforms to the Questionnaire (linkIds, nesting, types, answer options, skip logic: what
the library does not check); `assess` reads a QuestionnaireResponse back to the same result, and
responses of questionnaire 1.0.0 still work. In a real form renderer: tests/interop/test_fhir_browser.py."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse as FhirResponse

from conftest import ROOT, run_cli
from triage.interop import fhir
from triage.core.answers import KINDS, parse_answers
from triage.core.questionnaire import load_questionnaire

SCENARIOS = sorted((ROOT / "tests" / "data" / "scenarios" / "valid").glob("*.toml"))
OLD_RESPONSES = ROOT / "tests" / "data" / "fhir"
TODAY = date(2026, 11, 24)


def scenario_answers(path: Path) -> dict:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))["answers"]
    return parse_answers(raw, today=TODAY).answered()


@pytest.fixture(scope="module")
def questionnaire():
    return load_questionnaire()


def _questions(audience: str) -> dict:
    run = run_cli("questions", "--format", "fhir", "--audience", audience)
    assert run.code == 0, run.err
    return run.json


@pytest.fixture(scope="module")
def resource():
    return _questions("coordinator")


@pytest.fixture(scope="module")
def patient_resource():
    return _questions("patient")


def flatten(items: list, parent: str | None = None) -> dict[str, tuple[dict, str | None]]:
    """linkId -> (item, linkId of the enclosing item), at any depth."""
    found = {}
    for item in items:
        found[item["linkId"]] = (item, parent)
        found.update(flatten(item.get("item", []), item["linkId"]))
    return found


def test_questionnaire_validates_and_mirrors_the_definition(resource, questionnaire):
    FhirQuestionnaire.model_validate(resource)
    info, wording = questionnaire.questionnaire, questionnaire.patient_wording
    assert (resource["url"], resource["version"], resource["status"]) == (info.fhir_url, info.version, "active")
    # SDC metadata
    assert resource["meta"]["profile"] == [fhir.SDC_QUESTIONNAIRE]
    assert (resource["date"], resource["publisher"], resource["description"]) == (info.date, info.publisher,
                                                                                   info.description)
    assert resource["text"]["status"] == "generated" and resource["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
    assert all(item.text.replace('"', "&quot;").replace("'", "&#x27;") in resource["text"]["div"]
               for item in questionnaire.items)
    # intro, then one group per section, in order; the questions in definition order
    top = resource["item"]
    assert top[0] == {"linkId": "intro", "text": info.patient_intro, "type": "display"}
    assert [group["linkId"] for group in top[1:]] == [f"section.{section.id}" for section in questionnaire.sections]
    assert [group["text"] for group in top[1:]] == [section.patient_title for section in questionnaire.sections]
    assert all(group["type"] == "group" for group in top[1:])
    items = flatten(top)
    questions = [link for link, (item, _) in items.items() if item["type"] not in ("group", "display")
                 and not link.endswith(fhir.VALUE_SUFFIX)]
    assert questions == [item.id for item in questionnaire.items]
    for item in questionnaire.items:
        entry, parent = items[item.id]
        assert parent == f"section.{item.section}"
        assert entry["text"] == item.text and entry["required"] is False
        assert entry["code"] == [{"system": info.fhir_question_system, "code": item.id, "display": item.label}]
        help_item, help_parent = items[item.id + ".help"]
        assert help_parent == item.id and help_item["text"] == item.help and help_item["type"] == "display"
        assert help_item["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "help"
    assert items["pain_score"][0]["type"] == "integer" and items["assessment_date"][0]["type"] == "date"
    assert items["pain_quality"][0]["repeats"] is True
    # display text from the patient wording
    assert [o["valueCoding"]["display"] for o in items["red_flag_major_trauma"][0]["answerOption"]] == [
        wording.yes, wording.no, info.unknown_text]
    assert [o["valueCoding"]["display"] for o in items["pain_location"][0]["answerOption"]] == [
        option.text for option in questionnaire.item("pain_location").options]
    assert items["mri_date"][0]["enableWhen"] == [{"question": "mri_available", "operator": "=",
                                                   "answerCoding": {"system": info.fhir_answer_system, "code": "yes",
                                                                    "display": wording.yes}}]


def codes(item: dict) -> list[str]:
    return [option["valueCoding"]["code"] for option in item["answerOption"]]


def test_dates_are_asked_so_that_a_month_and_unknown_can_be_entered(resource, questionnaire):
    items = flatten(resource["item"])
    for item in questionnaire.items:
        if KINDS[item.id] != "partial_date":
            continue
        gate, value = items[item.id][0], items[item.id + fhir.VALUE_SUFFIX][0]
        assert gate["type"] == "choice" and codes(gate) == ["known", "unknown"]
        assert value["type"] == "string" and value["maxLength"] == fhir.DATE_ENTRY_MAX_LENGTH
        assert value["enableWhen"][0]["question"] == item.id and value["enableWhen"][0]["answerCoding"]["code"] == "known"
        extensions = {ext["url"]: ext["valueString"] for ext in value["extension"]}
        pattern = re.compile(extensions[fhir.REGEX])
        assert extensions[fhir.ENTRY_FORMAT] == "MM/YYYY"
        # what the help says to type (tests/core/test_date_vocabulary.py takes every example of every help)
        assert all(pattern.fullmatch(text) for text in ("2024-03", "2024-03-05", "1999-12-31", "03/2024", "3/2024",
                                                        "2024", "June 2024", "junio de 2024", "septiembre de 2025"))
        assert not any(pattern.fullmatch(text) for text in ("13/2024", "2024-13", "2024-3", "2024-03-32", "24",
                                                             "2024-00", "2024-03-1", "unknown", "06/10/2024"))


def test_levels_are_asked_so_that_none_and_unknown_cannot_be_combined_with_a_level(resource, questionnaire):
    items = flatten(resource["item"])
    for item in questionnaire.items:
        if KINDS[item.id] != "segments":
            continue
        gate, value = items[item.id][0], items[item.id + fhir.VALUE_SUFFIX][0]
        assert "repeats" not in gate  # one answer: levels, none or unknown
        assert codes(gate) == ["known", *(["none"] if item.allow_none else []), "unknown"]
        exclusive = [option["valueCoding"]["code"] for option in gate["answerOption"]
                     if {"url": fhir.OPTION_EXCLUSIVE, "valueBoolean": True} in option.get("extension", [])]
        assert exclusive == [*(["none"] if item.allow_none else []), "unknown"]
        assert value["repeats"] is True and codes(value) == ["T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
        assert value["enableWhen"][0]["answerCoding"]["code"] == "known"


def test_patient_questionnaire_leaves_out_the_coordinator_questions(patient_resource, resource, questionnaire):
    FhirQuestionnaire.model_validate(patient_resource)
    info = questionnaire.questionnaire
    assert patient_resource["url"] == info.fhir_patient_url and patient_resource["derivedFrom"] == [
        f"{info.fhir_url}|{info.version}"]
    links = flatten(patient_resource["item"])
    for item in questionnaire.items:
        assert (item.id in links) == ("patient" in item.audience), item.id
    assert {"patient_id", "assessment_date"}.isdisjoint(links)
    assert "section.intake" not in links  # no empty group
    full = flatten(resource["item"])
    assert all(links[link][0] == full[link][0] for link in links)  # same items, same linkIds


def assert_matches_questionnaire(response: dict, resource: dict, *, skip_logic: bool = True) -> None:
    """What the FHIR library leaves to a Questionnaire-aware validator: every linkId exists, at the
    Questionnaire's place, answers of the item's type and options, and only enabled items answered
    (``skip_logic``: an answers file may answer a question its skip logic would not ask, e.g. an MRI
    date without an MRI; the export keeps that answer rather than lose it)."""
    items = flatten(resource["item"])
    given = flatten(response["item"])
    assert response["questionnaire"] == f"{resource['url']}|{resource['version']}"
    assert response["meta"]["profile"] == [fhir.SDC_RESPONSE]
    answered = {link: entry.get("answer", []) for link, (entry, _) in given.items()}
    for link, (entry, parent) in given.items():
        item, item_parent = items[link]  # every linkId exists
        assert parent == item_parent, link
        if item["type"] == "group":
            assert "answer" not in entry and entry["item"]
            continue
        assert entry["answer"] and (len(entry["answer"]) == 1 or item.get("repeats")), link
        for condition in item.get("enableWhen", []) if skip_logic else ():
            assert {"valueCoding": condition["answerCoding"]} in answered.get(condition["question"], []), link
        for answer in entry["answer"]:
            if "valueCoding" in answer:
                assert item["type"] == "choice"
                allowed = [option["valueCoding"] for option in item["answerOption"]]
                fused_none = link == "fused_levels" and answer["valueCoding"]["code"] == "none"  # [] in a file
                assert answer["valueCoding"] in allowed or fused_none, (link, answer)
            elif "valueDate" in answer:
                assert item["type"] == "date"
            elif "valueInteger" in answer:
                assert item["type"] == "integer"
            else:
                assert item["type"] == "string" and "valueString" in answer
                for extension in item.get("extension", []):
                    if extension["url"] == fhir.REGEX:
                        assert re.fullmatch(extension["valueString"], answer["valueString"]), (link, answer)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_round_trips_through_a_valid_response(path, questionnaire, resource):
    answers = scenario_answers(path)
    response = fhir.response_resource(questionnaire, answers, authored="2026-11-24T10:00:00Z")
    FhirResponse.model_validate(response)
    asked = {item.id for item in questionnaire.asked(answers, "coordinator")}
    assert_matches_questionnaire(response, resource, skip_logic=set(answers) <= asked)
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
        assert_matches_questionnaire(exported.json, resource)  # de-identified too: the date entry allows a year
        if deidentify:
            assert "subject" not in exported.json and fhir.DEIDENTIFIED in exported.json["meta"]["security"]
        else:
            assert exported.json["subject"] == {"identifier": {"value": "EXAMPLE-001"}}
    response_file = tmp_path / "response.json"
    response_file.write_text(run_cli("export", "1", "--format", "fhir").out)
    from_fhir = run_cli("assess", str(response_file), "--format", "json", "--save")
    from_answers = run_cli("assess", str(example), "--format", "json")
    assert from_fhir.code == 0, from_fhir.err
    assert from_fhir.json == from_answers.json
    assert run_cli("show", "2", "--format", "json").json["source"] == "fhir"


def test_month_only_date_stays_a_month_and_unknown_is_an_answer(questionnaire, resource):
    answers = {"fusion_date": "2024-03", "mri_available": "yes", "mri_date": "unknown", "fused_levels": "unknown",
               "annular_tear_levels": []}
    response = fhir.response_resource(questionnaire, answers)
    FhirResponse.model_validate(response)
    assert_matches_questionnaire(response, resource)
    given = {link: entry["answer"] for link, (entry, _) in flatten(response["item"]).items() if "answer" in entry}
    assert given["fusion_date.value"] == [{"valueString": "2024-03"}]
    assert [a["valueCoding"]["code"] for a in given["fusion_date"]] == ["known"]
    assert [a["valueCoding"]["code"] for a in given["mri_date"]] == ["unknown"] and "mri_date.value" not in given
    assert [a["valueCoding"]["code"] for a in given["fused_levels"]] == ["unknown"]
    assert [a["valueCoding"]["code"] for a in given["annular_tear_levels"]] == ["none"]
    assert fhir.answers_from_response(response, questionnaire) == answers


@pytest.mark.parametrize("name, expected", [
    ("response-1.0.0.json", {
        "patient_id": "EXAMPLE-001", "assessment_date": "2026-11-24", "fusion_date": "2024-03",
        "fused_levels": ["L4-L5", "L5-S1"], "surgical_report_available": "yes", "mri_available": "yes",
        "mri_date": "2025-09", "annular_tear_levels": ["L3-L4"], "pain_location": "back_and_leg",
        "pain_quality": ["aching", "shooting"], "pain_pattern_since_surgery": "improved_then_returned",
        "pain_score": 7, "hardware_problem_known": "no", "mechanical_symptoms": "no", "red_flag_bladder_bowel": "no",
        "red_flag_saddle_numbness": "no", "red_flag_progressive_weakness": "no", "red_flag_fever_or_wound": "no",
        "red_flag_major_trauma": "no", "red_flag_cancer_or_weight_loss": "no", "veteran": "yes"}),
    ("response-1.0.0-unknowns.json", {"fusion_date": "unknown", "fused_levels": "unknown", "mri_available": "yes",
                                      "annular_tear_levels": [], "red_flag_bladder_bowel": "no"}),
])
def test_responses_to_questionnaire_1_0_0_still_work(questionnaire, name, expected):
    raw = json.loads((OLD_RESPONSES / name).read_text(encoding="utf-8"))
    assert raw["questionnaire"].endswith("|1.0.0")
    assert fhir.answers_from_response(raw, questionnaire) == expected
    run = run_cli("assess", str(OLD_RESPONSES / name), "--format", "json", "--as-of", "2026-11-24")
    assert run.code == 0, run.err


def _response_file(tmp_path, questionnaire, changes: dict) -> str:
    response = fhir.response_resource(questionnaire, {"pain_score": 5, "veteran": "yes"})
    response.update(changes)
    path = tmp_path / "qr.json"
    path.write_text(json.dumps(response))
    return str(path)


SYSTEM = load_questionnaire().questionnaire.fhir_answer_system


def _coded(code: str) -> dict:
    return {"valueCoding": {"system": SYSTEM, "code": code}}


@pytest.mark.parametrize("changes, expected", [
    ({"questionnaire": "http://example.org/Questionnaire/phq-9|1.0"},
     "error: triage assess: questionnaire: 'http://example.org/Questionnaire/phq-9|1.0' is not this tool's questionnaire"),
    ({"questionnaire": "https://fbss-triage.example.org/fhir/Questionnaire/fbss-intake|9.0.0"},
     "error: triage assess: questionnaire: answers version 9.0.0 of the questionnaire, newer than this tool's version"),
    ({"item": [{"linkId": "shoe_size", "answer": [{"valueInteger": 9}]}]},
     "error: triage assess: shoe_size: is not a question of questionnaire fbss-intake"),
    ({"questionnaire": "https://fbss-triage.example.org/fhir/Questionnaire/fbss-intake-patient",
      "item": [{"linkId": "patient_id", "answer": [{"valueString": "P-1"}]}]},
     "error: triage assess: patient_id: is not a question of the patient form of questionnaire fbss-intake"),
    ({"item": [{"linkId": "veteran", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA33-6"}}]}]},
     "error: triage assess: veteran: code system 'http://loinc.org' is not this questionnaire's"),
    ({"item": [{"linkId": "pain_score", "answer": [{"valueString": "7"}]}]},
     "error: triage assess: pain_score: the answer must be a valueInteger"),
    ({"item": [{"linkId": "pain_score", "answer": [{"valueInteger": 12}]}]}, "error: triage assess: pain_score: 12 is outside 0 to 10"),
    ({"item": [{"linkId": "fusion_date", "answer": [_coded("unknown")]},
               {"linkId": "fusion_date.value", "answer": [{"valueString": "2024-03"}]}]},
     "error: triage assess: fusion_date: answered \"I don't know\" and also gave a date; only one can be true"),
    ({"item": [{"linkId": "fusion_date", "answer": [_coded("known")]},
               {"linkId": "fusion_date.value", "answer": [{"valueString": "spring 2024"}]}]},
     "error: triage assess: fusion_date: 'spring 2024' is not a date (type it like 06/2024, June 2024, 2024 or 2024-06-10)"),
    ({"item": [{"linkId": "fused_levels", "answer": [_coded("unknown")]},
               {"linkId": "fused_levels.value", "answer": [_coded("L4-L5")]}]},
     "error: triage assess: fused_levels: \"I don't know\" cannot be combined with levels or another answer"),
    ({"item": [{"linkId": "annular_tear_levels", "answer": [_coded("none"), _coded("L4-L5")]}]},  # as in 1.0.0
     "error: triage assess: annular_tear_levels: 'None' cannot be combined with levels or another answer"),
    ({"item": [{"linkId": "fused_levels.value", "answer": [_coded("unknown")]}]},
     "error: triage assess: fused_levels: code 'unknown' is not an answer option of this question"),
    ({"status": "entered-in-error"}, "error: triage assess: status: 'entered-in-error' cannot be assessed"),
    ({"resourceType": "Patient"}, "error: triage assess: resourceType: 'Patient' is not a QuestionnaireResponse"),
])
def test_foreign_or_wrong_responses_exit_2_naming_the_problem(tmp_path, questionnaire, changes, expected):
    run = run_cli("assess", _response_file(tmp_path, questionnaire, changes))
    assert run.code == 2 and run.out == ""
    assert run.err.splitlines()[0].startswith(expected), run.err


def test_questions_audience_applies_to_fhir_only():
    run = run_cli("questions", "--audience", "patient")
    assert run.code == 2 and run.err.startswith("error: triage questions: --audience: applies to --format fhir only")


NEW_RED_FLAGS = ("red_flag_sexual_function", "red_flag_both_legs", "red_flag_clot_signs", "red_flag_immunosuppression")
VA_QUESTIONS = ("va_enrolled", "va_drive_time_over_standard", "va_wait_over_standard", "va_no_full_service_facility",
                "va_referral")


def test_ruleset_2_questions_are_in_the_questionnaire_with_their_wording(resource, patient_resource, questionnaire):
    """The four newer red-flag questions for everyone; the five VA questions enabled only when veteran
    is yes; the clinic's access standards and places written into the wording."""
    for document in (resource, patient_resource):
        items = flatten(document["item"])
        for question in (*NEW_RED_FLAGS, *VA_QUESTIONS):
            assert items[question][0]["text"] == questionnaire.item(question).text
            assert "{" not in items[question][0]["text"]
        for question in VA_QUESTIONS:
            (condition,) = items[question][0]["enableWhen"]
            assert condition["question"] == "veteran" and condition["answerCoding"]["code"] == "yes"
        assert all("enableWhen" not in items[question][0] for question in NEW_RED_FLAGS)
        assert "more than 60 minutes" in items["va_drive_time_over_standard"][0]["text"]
        assert "Alaska" in items["va_no_full_service_facility"][0]["text"]


def test_questions_take_the_clinics_settings_into_the_fhir_wording(tmp_path):
    settings = tmp_path / "clinic.toml"
    settings.write_text('va_drive_time_standard_minutes = 45\nva_no_full_service_facility_states = ["GU"]\n',
                        encoding="utf-8")
    run = run_cli("questions", "--format", "fhir", "--settings", str(settings))
    assert run.code == 0, run.err
    items = flatten(run.json["item"])
    assert "more than 45 minutes" in items["va_drive_time_over_standard"][0]["text"]
    assert items["va_no_full_service_facility"][0]["text"].endswith("places? Guam.")
