"""Spanish for patients (triage/core/languages.py, questionnaires/fbss-intake.es.toml): complete against
the English definitions (a missing or extra text is exit 3, never a fallback), plain (Spanish
reading formula), consistent (the glossary), never diagnostic, and the same answers whichever
language the patient reads.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tomllib

import pytest

from conftest import ROOT, run_cli
from support.cli import TRIAGE
from support import DATA
from support.wording import fernandez_huerta, spanish_syllables, spanish_words, szigriszt_pazos
from support.intake_golden import CASES, TRANSCRIPTS, golden_path, render, transcript
from triage.core.errors import DefinitionError
from triage.interop.fhir import TRANSLATION, questionnaire_resource, response_resource, translation_of
from triage.core.languages import (LANGUAGES, load_language, load_translation, patient_texts, translation_path,
                               web_translation_path)
from triage.core.questionnaire import load_definition, load_questionnaire
from triage.core.ruleset import load_ruleset
from triage.core.settings import Settings, load_settings
from triage.channels.web.messages import load_messages

DEFINITION = load_definition()
RULESET = load_ruleset()
SETTINGS = load_settings()
ENGLISH = patient_texts(DEFINITION, RULESET)
SPANISH = load_translation("es", DEFINITION, RULESET)
ES = load_language("es", questionnaire=DEFINITION, ruleset=RULESET, settings=SETTINGS)
SOURCE = translation_path("es").read_text(encoding="utf-8")
# The web pages' own words (questionnaires/fbss-web.toml and fbss-web.es.toml): held to the same checks.
WEB_ENGLISH = load_messages().messages
WEB_SPANISH = load_messages(language="es").messages
WEB_SOURCE = web_translation_path("es").read_text(encoding="utf-8")
ALL_ENGLISH = {**ENGLISH, **{f"web.{key}": text for key, text in WEB_ENGLISH.items()}}
ALL_SPANISH = {**SPANISH.texts, **{f"web.{key}": text for key, text in WEB_SPANISH.items()}}


# --- one definition, complete in both languages --------------------------------------------------

def test_every_patient_text_has_its_spanish_and_nothing_else_is_there():
    assert set(SPANISH.texts) == set(ENGLISH)
    assert len(ENGLISH) > 120  # questions, help, choices, prompts, errors, tiers, records to bring
    for key in ("questionnaire.unknown_text", "patient_wording.progress", "patient_wording.errors.date",
                "items.red_flag_clot_signs.help", "items.pain_location.options.back_and_leg",
                "messages.instructions_emergency", "messages.instructions_same_day", "messages.instructions_soon",
                "missing_items.surgical_report.to_bring", "patient_wording.summary_title"):
        assert SPANISH.texts[key] and SPANISH.texts[key] != ENGLISH[key], key
    # coordinator-only questions and coordinator wording are English only
    assert not any(key.startswith(("items.patient_id", "items.assessment_date")) for key in SPANISH.texts)


def _broken_copy(tmp_path, old: str, new: str):
    assert SOURCE.count(old) == 1, old
    path = tmp_path / "fbss-intake.es.toml"
    path.write_text(SOURCE.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.parametrize("old, new, named", [
    ('help = "Conteste no si todavía no ha pedido una cita al VA."\n', "", "items.va_wait_over_standard.help: missing"),
    ('check_year = "Por favor, revise el año."\n', "", "patient_wording.errors.check_year: missing"),
    ("[missing_items.red_flag_screen]\n", "[missing_items.red_flag_screening]\n",
     "missing_items.red_flag_screen.to_bring: missing"),
    ('unknown_text = "No sé"\n', 'unknown_text = "No sé"\nunknown_txt = "No lo sé"\n',
     "questionnaire.unknown_txt: is not a patient text"),
    ("Llame al {emergency_number}", "Llame al 911", "messages.instructions_emergency: placeholders [] differ"),
    ('review_status = "pending_review"', 'review_status = "draft"', "translation.review_status"),
    ('questionnaire_version = "2.1.0"', 'questionnaire_version = "2.0.0"', "translation.questionnaire_version"),
    ('VI = "las Islas Vírgenes de los Estados Unidos"\n', "", "places.VI: missing"),
])
def test_a_missing_extra_or_broken_text_is_a_load_error_naming_it(tmp_path, old, new, named):
    path = _broken_copy(tmp_path, old, new)
    with pytest.raises(DefinitionError, match=re.escape(named)):
        load_translation("es", DEFINITION, RULESET, path)


def _broken_web_copy(tmp_path, old: str, new: str):
    assert WEB_SOURCE.count(old) == 1, old
    path = tmp_path / "fbss-web.es.toml"
    path.write_text(WEB_SOURCE.replace(old, new), encoding="utf-8")
    return path


def test_every_web_message_has_its_spanish_and_nothing_else_is_there():
    assert set(WEB_SPANISH) == set(WEB_ENGLISH) and len(WEB_ENGLISH) > 90
    same = [key for key in WEB_ENGLISH if WEB_SPANISH[key] == WEB_ENGLISH[key]]
    assert same == ["error_prefix", "page_title_error_prefix"], same  # "Error" is Spanish too


@pytest.mark.parametrize("old, new, named", [
    ('back = "Atrás"\n', "", "back: missing (every patient text needs its Spanish text; there is no fallback"),
    ('or = "o"\n', 'or = "o"\nand = "y"\n', "and: is not a message id of the web pages"),
    ("espere {minutes} minutos", "espere 15 minutos", "too_many_text: placeholders [] differ from the English ['minutes']"),
    ('"Marque solo «{unknown}»', '"Marque solo «{desconocido}»',
     "error_unknown_alone: placeholders ['desconocido'] differ"),
    ('review_status = "pending_review"', 'review_status = "ok"', "translation.review_status"),
    ('web_version = "1.4.0"', 'web_version = "1.0.0"', "translation.web_version: translates fbss-web 1.0.0"),
    ('service_name = "Antes de su cita"', 'service_name = ""', "service_name: must be a non-empty text"),
])
def test_a_missing_extra_or_broken_web_text_is_a_load_error_naming_it(tmp_path, old, new, named):
    path = _broken_web_copy(tmp_path, old, new)
    with pytest.raises(DefinitionError, match=re.escape(named)):
        load_messages(language="es", translation_path=path)


def test_a_new_english_web_message_without_its_spanish_is_a_load_error(tmp_path):
    english = (ROOT / "questionnaires" / "fbss-web.toml").read_text(encoding="utf-8")
    path = tmp_path / "fbss-web.toml"
    path.write_text(english.replace('back = "Back"\n', 'back = "Back"\nbackwards = "Go back"\n'), encoding="utf-8")
    with pytest.raises(DefinitionError, match=re.escape("backwards: missing")):
        load_messages(path, language="es")


def test_an_english_text_without_its_spanish_is_a_load_error_too():
    # A question newly shown to patients (here: the patient reference) brings English texts that the
    # Spanish does not have yet: loading fails, naming the first one.
    widened = DEFINITION.model_copy(update={"items": tuple(
        item.model_copy(update={"audience": ("coordinator", "patient")}) if item.id == "patient_id" else item
        for item in DEFINITION.items)})
    with pytest.raises(DefinitionError, match=re.escape("items.patient_id.text: missing (every patient text "
                                                        "needs its Spanish text; there is no fallback to English)")):
        load_translation("es", widened, RULESET)


@pytest.mark.parametrize("command", [("questions", "--lang", "es"), ("questions",), ("questions", "-f", "fhir")])
def test_the_commands_exit_3_naming_the_key_never_falling_back(tmp_path, monkeypatch, command):
    path = _broken_copy(tmp_path, 'help = "Cualquier número entero del 0 al 10."\n', "")
    monkeypatch.setattr("triage.core.languages.translation_path", lambda language: path)
    run = run_cli(*command)
    assert run.code == 3, run.err
    assert "items.pain_score.help: missing" in run.err and run.out == ""


def test_the_patient_intake_exits_3_before_asking_anything(tmp_path, monkeypatch):
    path = _broken_copy(tmp_path, 'none = "Ninguno"\n', "")
    monkeypatch.setattr("triage.core.languages.translation_path", lambda language: path)
    for lang in ("es", "en"):  # a broken translation fails the patient intake in either language
        run = run_cli("intake", "--mode", "patient", "--lang", lang, "-o", str(tmp_path / f"{lang}.json"))
        assert run.code == 3 and "patient_wording.none: missing" in run.err, run.err
        assert not (tmp_path / f"{lang}.json").exists()


def test_lang_is_for_patients_only():
    run = run_cli("intake", "--lang", "es", "-o", "x.json")
    assert run.code == 2 and "--lang: applies to --mode patient only" in run.err


# --- plain, consistent, never diagnostic ---------------------------------------------------------

def _filled(text: str) -> str:
    """A text as a patient reads it: placeholders replaced by the shipped settings' Spanish values."""
    values = {**ES.values, "number": 5, "total": 19, "min": 0, "max": 10, "count": 3, "unknown_text": "No sé",
              "answer": "junio de 2024", "questions": "¿Cuándo le hicieron esa resonancia magnética?",
              "reason": "la fecha", "month_example": "06/2024 o junio de 2024", "day_example": "06/10/2024",
              "day_order": "mes/día/año", "intake": 4, "version": 1, "code": 4,
              "where": "archivo", "command": "archivo",  # a file name or a command is not prose
              "minutes": 15, "date": "4 de diciembre de 2026", "unknown": "No sé", "none": "Ninguno",
              "name": "foto.jpg", "megabytes": 10, "pages": 50, "files": 10}  # records (issue 30)
    return text.format_map(values)


MIN_FERNANDEZ_HUERTA = 60.0  # 60-70 = grades 7-8; 70-80 = grade 6; higher is easier


READING_EXCEPTIONS = tomllib.loads((DATA / "language" / "reading-exceptions.toml").read_text(encoding="utf-8"))


def test_spanish_patient_text_is_at_reading_grade_8_or_below():
    """Fernandez-Huerta (the Spanish Flesch, as corrected) with Spanish syllables counted by the spelling
    rules (support.wording.spanish_syllables, checked below against hand-counted words), per text of
    four words or more; Szigriszt-Pazos (INFLESZ) over all of it. A text that cannot be plainer (a
    medical word the patient must recognise) is listed with its reason in
    tests/data/language/reading-exceptions.toml, and the list holds only texts that need it. Shorter
    texts (options, titles) are too short for a formula: each of their words must be at most 6
    syllables ("entumecimiento", the usual clinic word for numbness, has 6)."""
    listed = READING_EXCEPTIONS["es"]
    graded, short = [], []
    for key, text in ALL_SPANISH.items():
        text = _filled(text)
        if len(spanish_words(text)) >= 4:
            graded.append((fernandez_huerta(text), key, text))
        else:
            short += [(key, word) for word in spanish_words(text) if spanish_syllables(word) > 6]
    too_hard = [(round(score, 1), key, text) for score, key, text in graded
                if score < MIN_FERNANDEZ_HUERTA and key not in listed]
    assert not too_hard, "\n".join(f"Fernandez-Huerta {s} < {MIN_FERNANDEZ_HUERTA}: {k}: {t!r}" for s, k, t in too_hard)
    needless = [key for key in listed if key not in dict((k, s) for s, k, _ in graded if s < MIN_FERNANDEZ_HUERTA)]
    assert not needless, f"listed in reading-exceptions.toml but plain enough (or gone): {needless}"
    assert not short, short
    everything = " ".join(_filled(text) for text in ALL_SPANISH.values())
    inflesz = szigriszt_pazos(everything)
    assert inflesz >= 55, inflesz  # INFLESZ 55-65 "normal", 65-80 "bastante fácil"
    scores = sorted(score for score, _, _ in graded)
    print(f"Spanish texts graded: {len(scores)}; Fernandez-Huerta median {statistics.median(scores):.1f}, "
          f"lowest {scores[0]:.1f}; INFLESZ of all {inflesz:.1f}")


def test_the_spanish_formula_separates_plain_from_hard_text():
    assert fernandez_huerta("¿Dónde tiene el dolor ahora?") > 80
    assert fernandez_huerta("La documentación intraoperatoria que fundamenta las características "
                            "de la instrumentación es imprescindible antes de la consulta.") < 40


# Counted by hand, syllable by syllable (RAE spelling rules: diphthongs, hiatus, a stressed í or ú).
SYLLABLES_ES = {
    "orina": 3, "abierta": 3, "día": 2, "emergencias": 4, "sí": 1, "no": 1, "sé": 1, "y": 1, "o": 1,
    "dolor": 2, "espalda": 3, "pierna": 2, "piernas": 2, "nalga": 2, "nalgas": 2, "vejiga": 3,
    "intestino": 4, "entumecimiento": 6, "hormigueo": 4, "cirugía": 4, "cirujano": 4, "fusión": 2,
    "resonancia": 4, "magnética": 4, "médico": 3, "clínica": 3, "cita": 2, "pregunta": 3, "preguntas": 3,
    "respuesta": 3, "advertencia": 4, "señales": 3, "últimas": 3, "semanas": 3, "genitales": 4,
    "muslos": 2, "adentro": 3, "ano": 2, "heces": 2, "excremento": 4, "pañales": 3, "toallas": 3,
    "caída": 3, "accidente": 4, "fiebre": 2, "escalofríos": 5, "herida": 3, "líquido": 3,
    "cáncer": 2, "tratamiento": 4, "peso": 2, "proponérselo": 5, "quimioterapia": 5, "trasplante": 3,
    "defensas": 3, "microbios": 3, "esteroides": 4, "pastillas": 3, "drogas": 2, "veteranos": 4,
    "inscribió": 3, "hoy": 1, "muy": 1, "ahora": 3, "leer": 2, "caer": 2, "país": 2, "oído": 3,
    "ciudad": 2, "cuídate": 3, "aéreo": 4, "guitarra": 3, "pingüino": 3, "averiguáis": 4, "rey": 1,
    "ya": 1, "continuar": 3, "eyacular": 4, "sensibilidad": 5, "pantorrilla": 4, "hinchada": 3,
    "enseguida": 4, "documentos": 4, "desgarro": 3, "anular": 3, "niveles": 3, "baño": 2,
    "Escriba": 3, "oprima": 3, "Elija": 3, "proteger": 3, "información": 4, "guardadas": 3,
}


@pytest.mark.parametrize("word, count", SYLLABLES_ES.items())
def test_the_spanish_syllable_counter_matches_hand_counts(word, count):
    assert spanish_syllables(word) == count


def test_the_syllable_counter_was_checked_on_enough_words():
    assert len(SYLLABLES_ES) >= 50
    # the words that the old counter got wrong are among them
    assert {"orina": 3, "abierta": 3, "día": 2, "emergencias": 4}.items() <= SYLLABLES_ES.items()


GLOSSARY = tomllib.loads((ROOT / "questionnaires" / "glossary.es.toml").read_text(encoding="utf-8"))["terms"]


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}", text, re.IGNORECASE) is not None


def _forms(term: dict) -> list[str]:
    return term["es"] if isinstance(term["es"], list) else [term["es"]]


@pytest.mark.parametrize("term", GLOSSARY, ids=lambda term: _forms(term)[0])
def test_one_spanish_word_per_idea(term):
    used = 0
    for key, spanish in ALL_SPANISH.items():
        english = ALL_ENGLISH[key]
        if any(re.search(rf"\b{re.escape(word)}\b", english, re.IGNORECASE) for word in term["en"]):
            used += 1
            assert any(_has(spanish, form) for form in _forms(term)), \
                f"{key}: {spanish!r} does not say {_forms(term)} for {term['en']}"
        for avoided in term.get("avoid", []):
            assert not re.search(rf"\b{re.escape(avoided)}\b", spanish, re.IGNORECASE), f"{key}: {avoided!r}"
    assert used, f"no English text names {term['en']}: remove the term"


def _forbidden_patterns() -> re.Pattern:
    lines = (DATA / "language" / "forbidden.es.txt").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns), re.IGNORECASE)


FORBIDDEN_ES = _forbidden_patterns()


def test_no_forbidden_phrasing_in_any_spanish_text():
    hits = [(key, FORBIDDEN_ES.search(text).group(0), text) for key, text in ALL_SPANISH.items()
            if FORBIDDEN_ES.search(text)]
    assert not hits, hits


@pytest.mark.parametrize("text", [
    "Según sus respuestas, usted tiene un desgarro anular.",
    "Diagnóstico: enfermedad del segmento adyacente.",
    "Su dolor es causado por los tornillos.",
    "Usted necesita cirugía en L3-L4.",
    "Usted debe someterse a una revisión.",
    "Le recomendamos una inyección.",
    "La resonancia magnética muestra que usted tiene un desgarro.",
    "Hallazgos compatibles con daño en un nervio.",
    "No es nada grave.",
    "El médico le va a recetar medicinas.",
    "Usted es elegible para la atención comunitaria.",
    "Su cita está cubierta por el VA.",
    "Usted califica para la atención fuera del VA.",
])
def test_the_spanish_scan_catches_diagnostic_directive_and_eligibility_wording(text):
    assert FORBIDDEN_ES.search(text), text


@pytest.mark.parametrize("text", [
    "¿Tiene una pantorrilla hinchada y con dolor?",
    "Usted puede ser elegible para la atención comunitaria; el VA lo decide.",
    "La visita puede estar cubierta si el VA la autoriza antes.",
    "Un médico revisará todo con usted.",
])
def test_the_spanish_scan_lets_questions_and_may_wording_through(text):
    assert FORBIDDEN_ES.search(text) is None, text


def test_the_emergency_tier_says_call_911_or_go_to_the_emergency_room_now():
    emergency = ES.texts.messages.instructions_emergency.format_map(ES.values)
    assert "Llame al 911" in emergency and "sala de emergencias" in emergency and "ahora" in emergency
    assert "No espere a su cita" in emergency
    same_day = ES.texts.messages.instructions_same_day
    assert "hoy" in same_day and "consultorio de su cirujano" in same_day
    soon = ES.texts.messages.instructions_soon.format_map(ES.values)
    # Within days: this answer never sends the patient to the ER; 911 only in the closing safety net,
    # for the named emergency signs (review row 7).
    answer_part, safety_net = soon.split(" Pero si ")
    assert "911" not in answer_part and "sala de emergencias" not in soon
    assert "orinar" in safety_net and "entumecimiento" in safety_net and "piernas" in safety_net
    assert safety_net.endswith("llame al 911 enseguida.")
    assert "al número que aparece en la carta de su cita" in soon  # the shipped default, in Spanish
    own = load_language("es", questionnaire=DEFINITION, ruleset=RULESET,
                        settings=Settings(clinic_phone="555-0100", va_no_full_service_facility_states=("HI", "VI")))
    assert "al 555-0100 " in own.texts.messages.instructions_soon.format_map(own.values)
    assert own.questionnaire.item("va_no_full_service_facility").text.endswith(
        "Hawái o las Islas Vírgenes de los Estados Unidos.")


# --- the same answers whichever language ---------------------------------------------------------

@pytest.mark.parametrize("name", CASES)
def test_golden_spanish_patient_summary(name):
    assert render(name, language="es") == golden_path(name, "es").read_text(encoding="utf-8"), \
        "regenerate with `python tests/regen.py intake` and review the diff"


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_golden_spanish_terminal_intake(tmp_path, name):
    screen, answers = transcript(name, tmp_path)
    assert screen == golden_path(name, TRANSCRIPTS[name][0]).read_text(encoding="utf-8"), \
        "regenerate with `python tests/regen.py intake` and review the diff"
    assert answers["pain_quality"] == ["aching"] and answers["red_flag_fever_or_wound"] == "yes"
    assert answers["fusion_date"] == "2024-06" and answers["hardware_problem_known"] == "unknown"


def test_a_spanish_intake_records_exactly_the_answers_of_the_same_intake_in_english(tmp_path):
    lines = ["06/2024", "L4-5 L5-S1", "1", "1", "09/2025", "L3-4", "3", "2 3", "1", "7", "3", "2",
             "2", "2", "2", "2", "2", "2", "2", "1", "2", "1", "1", "1", "2", "3", "2", "1"]
    saved = {}
    for lang in LANGUAGES:
        out = tmp_path / f"{lang}.json"
        done = subprocess.run([*TRIAGE, "intake", "--mode", "patient", "--lang", lang,
                               "-o", str(out)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}, timeout=60)
        assert done.returncode == 0, done.stderr
        saved[lang] = json.loads(out.read_text(encoding="utf-8"))
        summary = done.stdout
    assert saved["es"] == saved["en"]
    assert len(saved["en"]) == 29  # every question a veteran patient is asked, and the intake day
    assert "Antes de su cita" in summary and "Before your visit" not in summary


def test_spanish_words_typed_mean_the_same_answers():
    from triage.core.interview import interpret

    q = ES.questionnaire
    assert interpret(q.item("veteran"), "sí", mode="patient").value == "yes"
    assert interpret(q.item("veteran"), "No sé", mode="patient", unknown_text="No sé").value == "unknown"
    assert interpret(q.item("annular_tear_levels"), "ninguno", mode="patient").value == []
    assert interpret(q.item("fusion_date"), "10 de junio de 2024", mode="patient").value == "2024-06-10"
    assert interpret(q.item("mri_date"), "sept 2025", mode="patient").value == "2025-09"
    assert q.answer_text("fusion_date", "2024-06", audience="patient") == "junio de 2024"
    assert q.answer_text("pain_location", "leg", audience="patient") == "Más que nada en la pierna o la nalga"
    assert q.answer_text("pain_location", "leg") == "leg"  # staff read the English label


# --- staff see the review status; FHIR carries the Spanish -----------------------------------------

@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_questions_in_spanish_in_every_format_with_the_review_status(fmt):
    run = run_cli("questions", "--lang", "es", "-f", fmt, "--no-pager")
    assert run.code == 0, run.err
    assert "¿Cuándo fue su cirugía de fusión?" in run.out
    assert "pending_review" in run.out
    assert "Fusion date" in run.out  # coordinator labels stay English
    if fmt == "json":
        data = run.json
        assert data["language"] == "es" and data["translations"]["es"]["review_status"] == "pending_review"
        assert data["translations"]["es"]["web_pages"]["review_status"] == "pending_review"  # the web pages' words
    else:
        assert "(web pages: pending_review)" in " ".join(run.out.split())


def test_the_review_status_never_reaches_a_patient():
    forbidden = ("pending_review", "review status", "translator", "revisión pendiente")
    for name in CASES:
        assert not any(word in render(name, language="es") for word in forbidden)
    for key, text in ALL_SPANISH.items():
        assert not any(word in text for word in forbidden), key


def test_the_fhir_questionnaire_carries_the_spanish_as_translation_extensions():
    english = load_questionnaire()
    for audience in ("coordinator", "patient"):
        resource = questionnaire_resource(english, audience, (ES.questionnaire,))
        assert resource["language"] == "en"
        assert translation_of(resource, "title", "es") == ES.questionnaire.questionnaire.title
        groups = {group["linkId"]: group for group in resource["item"]}
        assert translation_of(groups["intro"], "text", "es") == ES.questionnaire.questionnaire.patient_intro
        clot = next(item for item in groups["section.red_flags"]["item"] if item["linkId"] == "red_flag_clot_signs")
        assert translation_of(clot, "text", "es") == ES.questionnaire.item("red_flag_clot_signs").text
        assert translation_of(clot["item"][0], "text", "es") == ES.questionnaire.item("red_flag_clot_signs").help
        unknown = next(o["valueCoding"] for o in clot["answerOption"] if o["valueCoding"]["code"] == "unknown")
        assert translation_of(unknown, "display", "es") == "No sé"
        assert "_display" not in clot["code"][0]  # the coordinator label is not patient text
    # every patient question of the form has its Spanish text
    patient = questionnaire_resource(english, "patient", (ES.questionnaire,))
    questions = [item for group in patient["item"][1:] for item in group["item"]]
    assert all(translation_of(item, "text", "es") for item in questions)
    assert all(extension["url"] == TRANSLATION for item in questions for extension in item["_text"]["extension"])


def test_the_fhir_questionnaire_with_translations_is_valid_r4():
    pytest.importorskip("fhir.resources")
    from fhir.resources.R4B.questionnaire import Questionnaire as FhirQuestionnaire

    english = load_questionnaire()
    for audience in ("coordinator", "patient"):
        FhirQuestionnaire.model_validate(questionnaire_resource(english, audience, (ES.questionnaire,)))
    spanish_first = questionnaire_resource(ES.questionnaire, "patient", (english,))
    FhirQuestionnaire.model_validate(spanish_first)
    assert spanish_first["language"] == "es" and translation_of(spanish_first, "title", "en") == english.questionnaire.title
    run = run_cli("questions", "-f", "fhir", "--lang", "es")
    assert run.code == 0 and run.json["language"] == "es"
    assert translation_of(run.json, "title", "en") == english.questionnaire.title
    assert run.json["item"][1]["item"][0]["text"] == "Patient reference (chart or referral number)"  # staff only
    run = run_cli("questions", "-f", "fhir", "--lang", "en", "--audience", "patient")
    assert run.json["language"] == "en" and translation_of(run.json, "title", "es") == ES.questionnaire.questionnaire.title
    assert "_title" not in run_cli("questions", "-f", "fhir").json  # without --lang: as before


def test_a_questionnaire_response_names_the_language_the_patient_answered_in():
    english = load_questionnaire()
    resource = response_resource(english, {"veteran": "yes"}, language="es")
    assert resource["language"] == "es"
    assert resource["item"][0]["item"][0]["text"] == "Have you served in the U.S. armed forces?"  # staff English
    assert "language" not in response_resource(english, {"veteran": "yes"})


# --- the language is recorded with the intake; staff read English ----------------------------------

def _piped_intake(tmp_path, *args: str) -> subprocess.CompletedProcess:
    lines = ["06/2024", "L4-5 L5-S1", "1", "3", "1", "2 3", "1", "7", "2", "2", "1", *["2"] * 9, "2"]
    return subprocess.run([*TRIAGE, "intake", "--db", str(tmp_path / "t.db"), *args],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "HOME": str(tmp_path)})


def test_the_language_is_recorded_with_the_intake_and_shown_to_staff_in_english(tmp_path):
    done = _piped_intake(tmp_path, "--mode", "patient", "--lang", "es")
    assert done.returncode == 0, done.stderr
    assert "Llame al 911" in done.stdout  # the patient read Spanish
    db = str(tmp_path / "t.db")
    show = run_cli("show", "1", "--db", db, "--no-pager")
    assert show.code == 0, show.err
    assert "Patient answered in: Spanish (es); the answers below are in English" in show.out
    assert "EMERGENCY" in show.out and "Llame" not in show.out and "No sé" not in show.out
    assert "Pain location: back;  Pain quality: burning, shooting" in show.out  # English labels and values
    assert run_cli("show", "1", "--db", db, "-f", "json").json["language"] == "es"
    fhir = run_cli("export", "1", "--db", db, "-f", "fhir").json
    assert fhir["language"] == "es"
    assert run_cli("export", "1", "--db", db, "-f", "fhir", "--deidentify").json["language"] == "es"
    verify = run_cli("audit", "verify", "--db", db)
    assert verify.code == 0, verify.out + verify.err


def test_a_coordinators_intake_records_no_patient_language(tmp_path):
    lines = ["P-1", "", "06/2024", "L4-5 L5-S1", "y", "u", "3", "2 3", "1", "7", "n", "n", *["n"] * 10, "n"]
    done = subprocess.run([*TRIAGE, "intake", "--db", str(tmp_path / "t.db")],
                          input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    show = run_cli("show", "1", "--db", str(tmp_path / "t.db"), "-f", "json")
    assert "language" not in show.json
    assert "language" not in run_cli("export", "1", "--db", str(tmp_path / "t.db"), "-f", "fhir").json


def test_a_recorded_language_is_sealed_by_the_version_hash(tmp_path):
    from triage.records.store import content_hash, open_store

    args = (1, 1, "2026-11-27T09:00:00Z", "kiosk", "intake", {"veteran": "no"}, {"status": "urgent"}, {})
    assert content_hash(*args) == content_hash(*args, None)  # versions without a language keep their hash
    assert content_hash(*args, "es") != content_hash(*args) != content_hash(*args, "en")
    with open_store(tmp_path / "s.db") as store:
        result = {"status": "records_needed", "ruleset": {"name": "fbss-triage", "version": "2.0.0"}, "settings": {}}
        store.record_assessment({"veteran": "no"}, result, user="kiosk", language="es")
        store.record_assessment({"veteran": "no"}, result, user="anna")
        assert store.get(1).language == "es" and store.get(2).language is None
        assert store.verify_audit().ok
        store._db.execute("DROP TRIGGER versions_no_update")
        store._db.execute("UPDATE versions SET language = 'en' WHERE intake_id = 1")
        report = store.verify_audit()
    assert not report.ok and any("intake 1 version 1" in problem for problem in report.problems)


def test_no_rendered_spanish_page_uses_a_non_glossary_variant():
    """The glossary holds on the pages as a patient sees them (templates, the questionnaire's texts and
    the web texts together), not only in the definition files."""
    import html

    from support.web_golden import render_all

    pages = render_all()
    assert len(pages) > 10
    hits = []
    for name, page in pages.items():
        text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)))
        for term in GLOSSARY:
            for avoided in term.get("avoid", []):
                if re.search(rf"\b{re.escape(avoided)}\b", text, re.IGNORECASE):
                    hits.append((name, avoided))
    assert not hits, hits
