"""Broken definitions fail at load, naming the file and the item; the shipped ones load cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from triage.core.errors import DefinitionError
from triage.core.questionnaire import load_questionnaire
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings

RULES = (ROOT / "rules" / "fbss-triage.toml").read_text(encoding="utf-8")
QUESTIONS = (ROOT / "questionnaires" / "fbss-intake.toml").read_text(encoding="utf-8")


def broken(tmp_path: Path, text: str, old: str, new: str) -> Path:
    assert old in text, f"test setup: {old!r} not in the definition"
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, message", [
    ('when = { fact = "red_flag_major_trauma", eq = "yes" }',
     'when = { fact = "red_flag_major_truama", eq = "yes" }', r"rules\[7\] \(RF-05\)\.when: unknown fact 'red_flag_major_truama'"),
    ('when = { fact = "red_flag_major_trauma", eq = "yes" }',
     'when = { fact = "red_flag_major_trauma", eq = "yess" }', r"RF-05.*red_flag_major_trauma is never 'yess'"),
    ('id = "RF-02"', 'id = "RF-01"', r"duplicate rule id RF-01"),
    ('reads = ["red_flag_major_trauma"]', 'reads = []', r"RF-05.*reads must list exactly"),
    ('id = "RF-05"\nversion = 2', 'id = "RF-05"\nversion = 2\ncolour = "red"', r"RF-05.*colour: Extra inputs are not permitted"),
    ('reason = "Veteran: yes; VA', 'reason = "Veteran: {veteran_status}; VA', r"TOPIC-02.*unknown placeholder \{veteran_status\}"),
    ('[missing_items.red_flag_screen]', '[missing_items.red_flag_screening]', r"missing_items"),
    ('source = "article#step-4"', 'source = "journal#step-4"', r"source 'journal#step-4' is not in \[sources\]"),
    ('then = { step_status = "to_do", reason = "No structural', 'then = { step_status = "todo", reason = "No structural', r"STRUCT-02.*step_status"),
    ('when = { fact = "veteran", eq = "yes" }', 'when = { fact = "veteran", eq = "yes", ne = "no" }', r"TOPIC-02.*exactly one of eq, ne, in, not_in"),
    # Urgency tiers: one rule per red-flag question, firing on its yes alone, with a tier.
    ('consult = "soon", red_flag = "red_flag_cancer_or_weight_loss"', 'consult = "routine", red_flag = "red_flag_cancer_or_weight_loss"',
     r"RF-06.*red-flag rule names its question, an urgent status and a tier"),
    ('consult = "soon", red_flag = "red_flag_cancer_or_weight_loss"', 'consult = "urgent", red_flag = "red_flag_cancer_or_weight_loss"',
     r"RF-06.*consult"),
    ('consult = "soon", red_flag = "red_flag_immunosuppression"', 'consult = "soon", red_flag = "red_flag_cancer_or_weight_loss"',
     r"RF-10: a red-flag rule fires on red_flag_cancer_or_weight_loss = yes, nothing else"),
    ('then = { status = "records_needed", missing = "red_flag_screen"', 'then = { status = "records_needed", consult = "soon", missing = "red_flag_screen"',
     r"SCREEN-01.*red-flag rule names its question"),
    ('[va_to_do]\nconfirm_enrollment', '[va_to_do]\nconfirm_enrolment', r"va_to_do"),
    ('instructions_soon = ', 'instructions_sooon = ', r"instructions"),
])
def test_broken_ruleset_is_refused_naming_the_item(tmp_path, old, new, message):
    with pytest.raises(DefinitionError, match=message):
        load_ruleset(broken(tmp_path, RULES, old, new))


@pytest.mark.parametrize("old, new, message", [
    ('id = "veteran"', 'id = "veterans"', r"items\[24\].*'veterans' is not a question id"),
    ('id = "pain_score"\ntype = "integer"', 'id = "pain_score"\ntype = "choice"', r"pain_score is of type integer"),
    ('{ value = "leg", label = "leg"', '{ value = "legs", label = "leg"', r"pain_location options must be exactly"),
    ('ask_when = { question = "mri_available", eq = "yes" }\n\n[[items]]\nid = "annular',
     'ask_when = { question = "pain_score", eq = "yes" }\n\n[[items]]\nid = "annular', r"mri_date: ask_when must refer to an earlier question|item mri_date"),
    ('safety = true\nlabel = "RF: new saddle numbness"', 'safety = false\nlabel = "RF: new saddle numbness"', r"safety must be true exactly for the red-flag questions"),
    ('help = "Leg pain includes pain in the buttock."', 'help = "Leg pain includes pain in the buttock."\nhint = "x"', r"items\[8\] \(pain_location\)\.hint: Extra inputs"),
    ('more than {va_drive_time_standard_minutes} minutes', 'more than {va_drive_minutes} minutes', r"va_drive_time_over_standard: unknown placeholder \{va_drive_minutes\}"),
])
def test_broken_questionnaire_is_refused_naming_the_item(tmp_path, old, new, message):
    with pytest.raises(DefinitionError, match=message):
        load_questionnaire(broken(tmp_path, QUESTIONS, old, new))


def test_not_toml(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text("[ruleset\nname = 1", encoding="utf-8")
    with pytest.raises(DefinitionError, match="not valid TOML"):
        load_ruleset(path)


def test_shipped_definitions_load():
    ruleset = load_ruleset()
    assert len({rule.id for rule in ruleset.rules}) == len(ruleset.rules)
    assert load_questionnaire().questionnaire.id == "fbss-intake"
    assert load_settings().healing_window_months == 6 and load_settings().mri_currency_months == 12


def test_settings_file_changes_the_windows(tmp_path, answers_file):
    settings = tmp_path / "clinic.toml"
    settings.write_text("healing_window_months = 3\nmri_currency_months = 24\n", encoding="utf-8")
    recent_fusion = answers_file({"assessment_date": "2026-11-24", "fusion_date": "2026-07-01"}, "a.json")
    old_mri = answers_file({"assessment_date": "2026-11-24", "fusion_date": "2024-01-01",
                            "mri_available": "yes", "mri_date": "2025-06"}, "b.json")

    def assess(path, *extra):
        return run_cli("assess", path, "--format", "json", *extra).json

    assert assess(recent_fusion)["status"] == "too_early"
    assert assess(recent_fusion, "--settings", str(settings))["status"] != "too_early"
    assert "current_mri" in [m["id"] for m in assess(old_mri)["missing_items"]]
    custom = assess(old_mri, "--settings", str(settings))
    assert "current_mri" not in [m["id"] for m in custom["missing_items"]]
    assert custom["settings"]["healing_window_months"] == 3


@pytest.mark.parametrize("text, setting", [
    ("va_drive_time_standard_minutes = 0\n", "va_drive_time_standard_minutes"),
    ("va_wait_standard_days = 366\n", "va_wait_standard_days"),
    ("va_no_full_service_facility_states = [\"AK\", \"XX\"]\n", "va_no_full_service_facility_states"),
    ("va_no_full_service_facility_states = [\"ak\"]\n", "va_no_full_service_facility_states"),
    ("va_no_full_service_facility_states = [\"AK\", \"AK\"]\n", "va_no_full_service_facility_states"),
    ("va_no_full_service_facility_states = \"AK\"\n", "va_no_full_service_facility_states"),
])
def test_broken_va_settings_exit_3_naming_the_setting(tmp_path, answers_file, text, setting):
    settings = tmp_path / "clinic.toml"
    settings.write_text(text, encoding="utf-8")
    run = run_cli("assess", answers_file({}), "--settings", str(settings))
    assert run.code == 3 and setting in run.err and len(run.err.splitlines()) == 1, run.err


def test_va_settings_are_named_in_every_result_and_worded_into_the_questions(tmp_path, answers_file):
    defaults = run_cli("assess", answers_file({}), "--format", "json").json["settings"]
    assert defaults["va_drive_time_standard_minutes"] == 60 and defaults["va_wait_standard_days"] == 28
    assert defaults["va_no_full_service_facility_states"] == ["AK", "HI", "NH", "GU", "AS", "MP", "VI"]
    settings = tmp_path / "clinic.toml"
    settings.write_text('va_drive_time_standard_minutes = 45\nva_wait_standard_days = 20\n'
                        'va_no_full_service_facility_states = ["AK", "HI"]\n', encoding="utf-8")
    answers = answers_file({"veteran": "yes", "va_drive_time_over_standard": "yes", "va_wait_over_standard": "yes",
                            "va_no_full_service_facility": "yes"})
    result = run_cli("assess", answers, "--format", "json", "--settings", str(settings)).json
    assert result["settings"]["va_no_full_service_facility_states"] == ["AK", "HI"]
    text = result["discussion_points"][0]["text"]
    assert "over 45 minutes" in text and "within 20 days" in text and "(AK, HI)" in text
    custom = load_questionnaire(settings=load_settings(settings))
    assert "more than 45 minutes" in custom.item("va_drive_time_over_standard").text
    assert custom.item("va_no_full_service_facility").text.endswith("Alaska or Hawaii.")
    shipped = load_questionnaire()
    assert "more than 60 minutes" in shipped.item("va_drive_time_over_standard").text
    assert "{" not in "".join(item.text + item.help + item.label for item in shipped.items)


def test_broken_settings_exit_3_naming_the_setting(tmp_path, answers_file):
    settings = tmp_path / "clinic.toml"
    settings.write_text("healing_window_months = 0\n", encoding="utf-8")
    run = run_cli("assess", answers_file({}), "--settings", str(settings))
    assert run.code == 3 and "healing_window_months" in run.err and len(run.err.splitlines()) == 1
