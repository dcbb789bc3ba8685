"""The patient web pages in Spanish (issue 15): the invitation's language, the language switch on every
page (keeping every saved answer, and what was entered but not yet sent when the page script carries
it), every page's own words in Spanish with no English left over, the language recorded with the
intake, the same answers as in English, and staff pages that stay English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from conftest import run_cli  # noqa: E402
from triage.records import invites  # noqa: E402
from triage.core.errors import DefinitionError  # noqa: E402
from triage.records.store import open_store  # noqa: E402
from triage.channels.web.messages import load_messages  # noqa: E402
from support.web_golden import golden_path, render_all  # noqa: E402
from support import web  # noqa: E402
from support.web import Clock, Patient, answer_all, errors, hidden_fields, make_app, sign_in, add_staff  # noqa: E402
from support.web_fixtures import clock, store_and_app  # noqa: E402,F401 (fixtures)

ENGLISH = load_messages().messages
SPANISH = load_messages(language="es").messages


db, app = store_and_app(kiosk=True)


def invite(db: Path, language: str = "en", patient_id: str | None = None) -> tuple[str, int]:
    return web.invite(db, patient_id=patient_id, language=language)


def opened(app, db, language: str = "es") -> tuple[Patient, int]:
    code, intake_id = invite(db, language)
    visitor = Patient(app.test_client()).open_code(code)
    assert visitor.path == "/intake/start", errors(visitor.page)
    return visitor, intake_id


def first_question(visitor: Patient) -> Patient:
    return visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))


def english_left_over(page: Patient) -> list[str]:
    """English web texts of three words or more found on a page meant to be Spanish."""
    return [key for key, text in ENGLISH.items()
            if len(text.split()) >= 3 and "{" not in text and text in page.text]


def switch_links(page: str) -> dict[str, str]:
    nav = re.search(r'<nav class="language-switch"(.*?)</nav>', page, re.S)
    assert nav, "no language switch on the page"
    return {lang: href.replace("&amp;", "&") for href, lang in
            re.findall(r'<a class="link language-switch__link" href="([^"]+)" lang="([a-z]+)" hreflang="\2">', nav.group(1))}


# --- the invitation's language ------------------------------------------------------------------------

def test_an_invitation_in_spanish_opens_the_questionnaire_in_spanish(app, db):
    visitor, _ = opened(app, db, "es")
    assert '<html lang="es">' in visitor.page
    assert "Antes de empezar" in visitor.text and "Empezar ahora" in visitor.text
    first_question(visitor)
    assert "Pregunta 1 de" in visitor.text and "¿Cuándo fue su cirugía de fusión?" in visitor.text
    assert "Mes" in visitor.text and "Año" in visitor.text and "No sé" in visitor.text
    assert english_left_over(visitor) == []


def test_an_invitation_in_english_opens_in_english(app, db):
    visitor, _ = opened(app, db, "en")
    assert '<html lang="en">' in visitor.page and "Before you start" in visitor.text


def test_the_invite_link_opens_the_start_page_in_its_language_and_the_choice_wins(app, db):
    code, _ = invite(db, "en")
    visitor = Patient(app.test_client()).get(f"/intake/code/{code}?lang=es")
    assert '<html lang="es">' in visitor.page and "Su código" in visitor.text
    visitor.post("/intake/", code=code)  # chosen on this browser before: kept over the invitation's
    assert visitor.path == "/intake/start" and "Antes de empezar" in visitor.text


def test_invite_lang_es_is_stored_and_printed_with_its_link(tmp_path):
    db = tmp_path / "t.db"
    run = run_cli("invite", "--db", str(db), "--lang", "es", "--base-url", "https://clinic.example")
    assert run.code == 0, run.err
    code = re.search(r"^code: (\S+)$", run.out, re.M).group(1)
    assert f"link: https://clinic.example/intake/code/{code}?lang=es\n" in run.out
    assert "it opens in Spanish" in run.err
    with open_store(db) as store:
        assert store.find_invite(invites.code_hash(code)).language == "es"
    english = run_cli("invite", "--db", str(db))
    code = re.search(r"^code: (\S+)$", english.out, re.M).group(1)
    assert "?lang" not in english.out
    with open_store(db) as store:
        assert store.find_invite(invites.code_hash(code)).language == "en"
    assert run_cli("invite", "--db", str(db), "--lang", "fr").code == 2


def test_invitations_of_a_schema_6_store_open_in_english_after_the_migration(tmp_path):
    import sqlite3

    db = tmp_path / "t.db"
    code, intake_id = invite(db, "es")
    raw = sqlite3.connect(db, isolation_level=None)
    for statement in ("DROP TABLE worklist_counts", "DROP TABLE access_log", "DROP TABLE access_head",  # schema 17's (scale)
                      "DROP INDEX alerts_open_page", "DROP INDEX alerts_latest", "ALTER TABLE alerts DROP COLUMN backlog",
                      "ALTER TABLE worklist DROP COLUMN alert_backlog", "DROP TABLE record_files",
                      "DROP TABLE record_requests", "DROP INDEX worklist_alert",
                      "ALTER TABLE worklist DROP COLUMN alert_urgency",
                      "ALTER TABLE alerts DROP COLUMN answer_changed_at",
                      "DROP TABLE sessions", "DROP TABLE token_uses", "ALTER TABLE users DROP COLUMN session_generation",
                      "ALTER TABLE invites DROP COLUMN language", "ALTER TABLE alerts DROP COLUMN kiosk",
                      "DROP TABLE rate_limits", "DROP TABLE known_devices",
                      "DROP TABLE recovery_codes", "ALTER TABLE users DROP COLUMN totp_secret",
                      "ALTER TABLE users DROP COLUMN totp_last_step", "ALTER TABLE users DROP COLUMN alert_sound",
                      "PRAGMA user_version = 6"):  # (what later schemas added, gone too)
        raw.execute(statement)
    raw.close()
    with open_store(db) as store:  # migration 7 adds the column: what was issued before opens in English
        found = store.find_invite(invites.code_hash(code))
        assert found.language == "en" and found.intake_id == intake_id
        # The chain holds; only the invitation differs from its hash, which this code recorded when it
        # issued it in Spanish (a real schema 6 store has no such hash: schema 11 seals them as found).
        problems = store.verify_audit().problems
        assert problems and all(problem.startswith("invitation to intake") for problem in problems), problems


# --- the switch -------------------------------------------------------------------------------------

def test_every_patient_page_has_the_switch_with_lang_on_the_page_and_on_the_link(app, db):
    visitor, intake_id = opened(app, db, "es")
    pages = []
    visitor.get("/intake/")
    pages.append(visitor.page)  # the start page (an open intake goes on to the intro)
    for path in ("/intake/start", "/intake/questions/fusion_date", "/intake/saved", "/intake/nowhere"):
        visitor.get(path)
        pages.append(visitor.page)
    for page in pages:
        assert '<html lang="es">' in page
        assert switch_links(page).keys() == {"en"}
        assert '<span class="language-switch__current" aria-current="true" lang="es">Español</span>' in page
        assert 'aria-label="Idioma"' in page
    visitor.get(switch_links(pages[2])["en"])
    assert visitor.path == "/intake/questions/fusion_date" and '<html lang="en">' in visitor.page
    assert re.search(r'<a class="link language-switch__link" href="/intake/language/es\?next=(/|%2F)intake(/|%2F)'
                     r'questions(/|%2F)fusion_date" lang="es" hreflang="es">Español</a>', visitor.page)
    # without the page script, the question page says how to keep the answer on it
    assert "<noscript>" in visitor.page and ENGLISH["language_keep_note"] in visitor.page


def test_switching_mid_way_and_back_keeps_every_saved_answer_and_the_place(app, db):
    visitor, intake_id = opened(app, db, "es")
    first_question(visitor)
    visitor.answer(month="3", year="2024")
    visitor.answer(answer=["L4-L5", "L5-S1"])
    assert visitor.question == "surgical_report_available"
    visitor.get(switch_links(visitor.page)["en"])
    assert visitor.question == "surgical_report_available" and "Question 3 of" in visitor.text
    visitor.get("/intake/questions/fused_levels")
    assert re.search(r'value="L4-L5" checked', visitor.page) and re.search(r'value="L5-S1" checked', visitor.page)
    visitor.get(switch_links(visitor.page)["es"])
    assert visitor.question == "fused_levels" and "Pregunta 2 de" in visitor.text
    assert re.search(r'value="L4-L5" checked', visitor.page)
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {"fusion_date": "2024-03", "fused_levels": ["L4-L5", "L5-S1"]}


def test_a_change_link_keeps_its_way_back_to_the_check_page_across_a_switch(app, db):
    visitor, _ = opened(app, db, "es")
    answer_all(first_question(visitor))
    assert visitor.path == "/intake/check"
    visitor.get("/intake/questions/pain_score?change=1")
    visitor.get(switch_links(visitor.page)["en"])
    assert visitor.path == "/intake/questions/pain_score?change=1" and 'name="change" value="1"' in visitor.page


def test_entries_not_yet_sent_come_back_in_the_other_language_and_are_not_saved(app, db):
    """What the page script does with the switch link: it posts the page's form to the link."""
    visitor, intake_id = opened(app, db, "es")
    first_question(visitor)
    form = {**hidden_fields(visitor.page), "day": "", "month": "7", "year": "20"}
    response = visitor.client.post("/intake/language/en?next=/intake/questions/fusion_date", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/intake/questions/fusion_date"
    visitor.get("/intake/questions/fusion_date")
    assert '<html lang="en">' in visitor.page
    assert 'id="fusion_date-month" name="month"' in visitor.page and 'value="7"' in visitor.page
    assert 'value="20"' in visitor.page  # as typed, not yet checked (Continue checks it)
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {}  # only Continue saves
    visitor.get("/intake/questions/fusion_date")
    assert 'value="7"' not in visitor.page  # carried once, to that page only


def test_the_code_typed_on_the_start_page_is_carried_across_the_switch(app):
    visitor = Patient(app.test_client()).get("/intake/")
    response = visitor.client.post("/intake/language/es?next=/intake/",
                                   data={**hidden_fields(visitor.page), "code": "7kq4m x2rhd"})
    assert response.status_code == 303
    visitor.get("/intake/")
    assert '<html lang="es">' in visitor.page and 'value="7kq4m x2rhd"' in visitor.page


def test_the_switch_needs_the_forms_token_and_goes_nowhere_but_our_pages(app):
    visitor = Patient(app.test_client()).get("/intake/")
    assert visitor.client.post("/intake/language/es?next=/intake/", data={"code": "x"}).status_code == 400
    for target in ("https://elsewhere.example/", "//elsewhere.example/x", "/staff/"):
        response = visitor.client.get(f"/intake/language/es?next={target}")
        assert response.status_code == 303 and response.headers["Location"] == "/intake/", target
    assert visitor.client.get("/intake/language/fr?next=/intake/").status_code == 404


# --- every kind of page in Spanish ------------------------------------------------------------------

def test_errors_notices_red_flags_check_and_confirmation_are_spanish(app, db):
    visitor, intake_id = opened(app, db, "es")
    first_question(visitor)
    visitor.answer()
    assert visitor.status == 400 and errors(visitor.page) == ['Escriba el mes y el año de su cirugía de fusión, o elija "No sé"']
    assert "<title>Error: ¿Cuándo fue su cirugía de fusión?" in visitor.page and english_left_over(visitor) == []
    visitor.answer(month="13", year="2024")
    assert errors(visitor.page) == ["El mes tiene que ser un número del 1 al 12"]
    visitor.answer(month="3", year="2024")
    visitor.answer(answer=["L4-L5", "unknown"])
    assert errors(visitor.page) == ['Marque solo «No sé» o quite esa marca']
    answer_all(visitor, {"red_flag_saddle_numbness": {"answer": "yes"}, "mri_available": {"answer": "no"}})
    # the red-flag page came and went in answer_all; look at it again
    visitor.get("/intake/warning/red_flag_saddle_numbness?next=/intake/check")
    assert "care-card--emergency" in visitor.page and "Busque ayuda ahora" in visitor.text
    assert "Llame al 911" in visitor.text and "Seguir con las preguntas" in visitor.text
    assert english_left_over(visitor) == []
    visitor.get("/intake/check")
    assert "Revise sus respuestas antes de enviarlas" in visitor.text and "marzo de 2024" in visitor.text
    assert "Cambiar" in visitor.text and "L4-L5, L5-S1" in visitor.text and english_left_over(visitor) == []
    visitor.get("/intake/questions/mri_available?change=1").answer(answer="yes", change="1")
    assert "Por esta respuesta, hay una pregunta nueva para usted." in visitor.text
    visitor.get("/intake/check").post()
    assert visitor.path == "/intake/done"
    assert "Respuestas enviadas" in visitor.text and "Busque ayuda ahora" in visitor.text
    assert "Por favor, traiga esto a su cita:" in visitor.text and english_left_over(visitor) == []
    for word in ("records_needed", "urgent", "regenerative", "Step", "Paso", "pending_review"):
        assert word not in visitor.text
    with open_store(db) as store:
        record = store.get(intake_id)
    assert record.language == "es" and record.source == "web"


def test_a_hidden_questions_notice_is_in_the_language_of_the_page_that_shows_it(app, db):
    visitor, _ = opened(app, db, "en")
    answer_all(first_question(visitor))
    visitor.get("/intake/questions/mri_available?change=1")
    response = visitor.client.post("/intake/questions/mri_available",
                                   data={**hidden_fields(visitor.page), "answer": "no", "change": "1"})
    assert response.status_code == 303
    visitor.get("/intake/language/es?next=/intake/questions/mri_available")
    assert "Por esta respuesta, no le vamos a hacer estas preguntas:" in visitor.text
    assert "¿Cuándo le hicieron esa resonancia magnética?" in visitor.text or "resonancia" in visitor.text


def test_save_leave_and_the_closed_page_stay_spanish(app, db):
    visitor, _ = opened(app, db, "es")
    first_question(visitor)
    visitor.answer(month="3", year="2024", later="1")
    assert visitor.path.startswith("/intake/saved") and "Sus respuestas están guardadas" in visitor.text
    visitor.post("/intake/leave")
    assert visitor.path == "/intake/ended?left=1" and '<html lang="es">' in visitor.page
    assert "Usted salió del cuestionario" in visitor.text and english_left_over(visitor) == []


def test_an_idle_end_says_so_in_the_patients_language_and_opens_nothing(db):
    from triage.core.settings import load_settings

    clock = Clock()
    app = make_app(db, clock=clock)
    visitor, _ = opened(app, db, "es")
    first_question(visitor)
    clock.advance(load_settings().patient_idle_minutes * 60 + 1)
    visitor.get("/intake/questions/fusion_date")
    assert visitor.path == "/intake/ended" and '<html lang="es">' in visitor.page
    assert "Para proteger sus datos, cerramos el cuestionario" in visitor.text
    visitor.get("/intake/questions/fusion_date")  # the intake stays closed: only the language was kept
    assert visitor.path in ("/intake/", "/intake/ended") and "Pregunta 1" not in visitor.text


def test_kiosk_start_in_spanish_gives_a_spanish_code_page_and_invitation(app, db):
    visitor = Patient(app.test_client()).get("/intake/language/es?next=/intake/")
    assert "Empezar las preguntas" in visitor.text
    visitor.post("/intake/new")
    assert visitor.path == "/intake/your-code" and "El código sirve hasta el" in visitor.text
    assert re.search(r"hasta el \d{1,2} de [a-z]+ de \d{4}", visitor.text)
    code = re.search(r'<p class="code-display">([A-Z0-9-]+)</p>', visitor.page).group(1)
    with open_store(db) as store:
        assert store.find_invite(invites.code_hash(code)).language == "es"


def test_plain_error_pages_are_in_the_patients_language(app, db):
    visitor, _ = opened(app, db, "es")
    visitor.get("/intake/nowhere")
    assert visitor.status == 404 and "No encontramos la página" in visitor.text


# --- the same answers, the language recorded, staff in English -----------------------------------------

def test_the_same_intake_in_spanish_and_english_records_the_same_answers(app, db):
    recorded = {}
    for language in ("en", "es"):
        visitor, intake_id = opened(app, db, language)
        answer_all(first_question(visitor), {"veteran": {"answer": "yes"}, "red_flag_fever_or_wound": {"answer": "yes"}})
        visitor.post()
        assert visitor.path == "/intake/done"
        with open_store(db) as store:
            recorded[language] = store.get(intake_id)
    assert recorded["es"].answers == recorded["en"].answers
    assert recorded["es"].result["status"] == recorded["en"].result["status"] == "urgent"
    assert (recorded["en"].language, recorded["es"].language) == ("en", "es")
    with open_store(db) as store:
        assert store.verify_audit().ok
    # what staff and the record get: show says it in English words, FHIR carries the language
    show = run_cli("show", str(recorded["es"].intake_id), "--db", str(db), "--no-pager")
    assert "Patient answered in: Spanish (es); the answers below are in English" in show.out and "No sé" not in show.out
    fhir = run_cli("export", str(recorded["es"].intake_id), "--db", str(db), "-f", "fhir").json
    assert fhir["language"] == "es"


def test_staff_pages_stay_english_and_say_the_patient_answered_in_spanish(app, db):
    visitor, intake_id = opened(app, db, "es")
    answer_all(first_question(visitor), {"pain_location": {"answer": "leg"}})
    visitor.post()
    add_staff(db, "carla", "clinician")
    staff = sign_in(app.test_client(), "carla")
    staff.get(f"/staff/intakes/{intake_id}")
    assert staff.status == 200 and '<html lang="en">' in staff.page
    assert "Patient answered in: Spanish (es); the answers below are in English." in staff.text
    assert "language-switch" not in staff.page
    for spanish in ("No sé", "Más que nada en la pierna", "Pregunta", "Sí"):
        assert spanish not in staff.text, spanish


def test_staff_invite_page_offers_the_language(app, db):
    add_staff(db, "ana", "coordinator")
    staff = sign_in(app.test_client(), "ana")
    staff.get("/staff/invite")
    assert 'name="language" type="radio" value="es"' in staff.page
    staff.post("/staff/invite", patient_id="P-9", expires_days="7", language="es")
    assert "The questionnaire opens in Spanish." in staff.text
    code = re.search(r"Code <strong[^>]*>([A-Z0-9-]+)</strong>", staff.page).group(1)
    assert f"/intake/code/{code}?lang=es" in staff.page
    with open_store(db) as store:
        assert store.find_invite(invites.code_hash(code)).language == "es"
    staff.get("/staff/invite")
    staff.post("/staff/invite", patient_id="", expires_days="7", language="fr")
    assert staff.status == 400 and "Select the language the questionnaire opens in" in staff.text


# --- a broken translation never reaches a patient -------------------------------------------------------

def test_a_broken_spanish_web_text_stops_the_app_naming_the_id(db, tmp_path, monkeypatch):
    from triage.core.languages import web_translation_path

    source = web_translation_path("es")  # the shipped file, wherever the package is
    broken = tmp_path / "fbss-web.es.toml"
    broken.write_text(source.read_text(encoding="utf-8").replace('done_title = "Respuestas enviadas"\n', ""),
                      encoding="utf-8")
    monkeypatch.setattr("triage.core.languages.web_translation_path", lambda language: broken)
    with pytest.raises(DefinitionError, match=re.escape("done_title: missing")):
        make_app(db)


# --- golden pages -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spanish_pages() -> dict[str, str]:
    return render_all("es")


GOLDEN_NAMES = sorted(path.stem for path in golden_path("x").parent.glob("*.html"))


def test_the_golden_pages_cover_every_kind_of_patient_page(spanish_pages):
    assert sorted(spanish_pages) == GOLDEN_NAMES
    assert len(GOLDEN_NAMES) >= 25


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_spanish_web_page(spanish_pages, name):
    page = spanish_pages[name]
    assert page == golden_path(name).read_text(encoding="utf-8"), \
        "regenerate with `python tests/regen.py web` and review the diff"
    assert '<html lang="es">' in page and "language-switch" in page
    text = re.sub(r"<[^>]+>", " ", page)
    assert not [key for key, english in ENGLISH.items() if len(english.split()) >= 3 and "{" not in english
                and english in text], name
