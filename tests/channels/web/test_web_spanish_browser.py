"""The patient questionnaire in Spanish in a real browser (Debian chromium through Playwright): a whole
intake on a 320 px phone from a Spanish invitation, switching to English mid-way and back without
losing a saved answer or what was ticked and not yet sent, the switch by keyboard, the switch without
JavaScript, and axe-core on every kind of page in Spanish with zero violations. Screenshots at 320
and 1024 px are kept in test-artefacts/screenshots/ (names start with "es-")."""

from __future__ import annotations

import pytest

from support import web, web_browser
from support.web import TODAY
from support.web_browser import choose, new_page, press, question_id, require_browser, screenshot
from support.web_browser import served  # noqa: F401 (fixture)

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def invite(db, language="es"):
    """A Spanish invitation (as `triage invite --language es` issues it) unless told otherwise."""
    return web.invite(db, patient_id="PT-ES1", language=language)


PLAN = {
    "fusion_date": {"Mes": "3", "Año": "2024"},
    "fused_levels": ["L4-L5", "L5-S1"],
    "surgical_report_available": "Sí",
    "mri_available": "Sí",
    "mri_date": {"Mes": "9", "Año": "2026"},
    "annular_tear_levels": ["L3-L4"],
    "pain_location": "En la espalda y en la pierna o la nalga",
    "pain_quality": ["Dolor sordo o constante", "Ardor"],
    "pain_pattern_since_surgery": "Mejoró, y luego volvió",
    "pain_score": "7",
    "hardware_problem_known": "No",
    "mechanical_symptoms": "No sé",
    "red_flag_saddle_numbness": "Sí",
}
KIND = {"fusion_date": "question-date", "fused_levels": "question-levels", "surgical_report_available": "question-yes-no",
        "pain_location": "question-choice", "pain_quality": "question-multi", "pain_score": "question-score"}


def check(page, name: str, seen: set[str] | None = None) -> None:
    """Spanish on the page, axe-core finds nothing, and screenshots are kept as es-NAME (once per kind of page)."""
    web_browser.check(page, name, seen, language="es")


def answer_current(page, plan) -> str:
    """As in English, with the Spanish page's button (Continuar)."""
    return web_browser.answer_current(page, plan, continue_button="Continuar")


def switch_to(page, name: str) -> None:
    page.locator(".language-switch").get_by_role("link", name=name, exact=True).click()


def test_a_whole_spanish_intake_on_a_phone_switching_language_and_back(browser, served):
    server, db = served
    code, intake_id = invite(db)
    page = new_page(browser)
    seen: set[str] = set()
    page.goto(f"{server.url}/intake/code/{code}?lang=es")
    check(page, "start", seen)
    press(page, "Empezar")
    check(page, "intro", seen)
    page.get_by_role("link", name="Empezar ahora").click()

    press(page, "Continuar")  # nothing entered: the error summary, in Spanish
    assert "Escriba el mes y el año de su cirugía de fusión" in page.inner_text(".error-summary")
    check(page, "question-error", seen)

    switched = False
    for _ in range(45):
        if "/intake/warning/" in page.url:
            assert page.locator(".care-card--emergency").is_visible()
            assert "Llame al 911" in page.inner_text("main")
            check(page, "red-flag-emergency", seen)
            press(page, "Seguir con las preguntas")
            continue
        qid = question_id(page)
        if qid is None:
            break
        if qid in KIND:
            page.get_by_text("Ayuda con esta pregunta").click()
            check(page, KIND[qid], seen)
        if qid == "pain_location" and not switched:
            switched = True
            # Mid-way: tick an answer, do not press Continuar, switch to English and back.
            choose(page, PLAN["pain_location"])
            switch_to(page, "English")
            assert question_id(page) == "pain_location" and page.get_attribute("html", "lang") == "en"
            assert page.get_by_label("In my back and my leg or buttock", exact=True).is_checked()
            assert "Question 7 of" in page.inner_text("main")
            page.get_by_role("link", name="Back").click()
            assert page.get_by_label("L3-L4", exact=True).is_checked()  # a saved answer, now in English pages
            switch_to(page, "Español")
            assert question_id(page) == "annular_tear_levels" and "Pregunta 6 de" in page.inner_text("main")
            assert page.get_by_label("L3-L4", exact=True).is_checked()
            press(page, "Continuar")
            assert question_id(page) == "pain_location"
            continue
        answer_current(page, PLAN)
    assert switched and page.url.endswith("/intake/check")
    main = page.inner_text("main")
    assert "marzo de 2024" in main and "septiembre de 2026" in main and "No sé" in main
    assert "En la espalda y en la pierna o la nalga" in main
    check(page, "check-answers", seen)

    press(page, "Enviar respuestas")
    assert page.url.endswith("/intake/done")
    assert page.locator(".care-card--emergency").is_visible()
    check(page, "confirmation", seen)

    from triage.records.store import open_store

    with open_store(db) as store:
        record = store.get(intake_id)
    assert record.language == "es" and record.source == "web"
    assert record.answers["pain_location"] == "back_and_leg" and record.answers["fusion_date"] == "2024-03"
    assert record.answers["annular_tear_levels"] == ["L3-L4"] and record.answers["mechanical_symptoms"] == "unknown"
    assert record.answers["assessment_date"] == TODAY.isoformat()
    page.context.close()


def test_the_switch_by_keyboard_and_without_javascript(browser, served):
    server, db = served
    code, intake_id = invite(db, "en")
    page = new_page(browser, javascript=False)
    page.goto(f"{server.url}/intake/code/{code}")
    press(page, "Start")
    page.get_by_role("link", name="Start now").click()
    page.get_by_label("Month", exact=True).fill("6")
    page.get_by_label("Year", exact=True).fill("2023")
    press(page, "Continue")
    # The switch is the next stop of the Tab key after the skip link (the first thing on every page).
    page.locator(".skip-link").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent, document.activeElement.lang,"
                            " document.activeElement.hreflang]")
    assert focused == ["Español", "es", "es"]
    assert page.locator("noscript").count() == 1  # says to press Continue first
    page.keyboard.press("Enter")
    assert question_id(page) == "fused_levels" and page.get_attribute("html", "lang") == "es"
    page.get_by_role("link", name="Atrás").click()
    assert page.get_by_label("Mes", exact=True).input_value() == "6"
    screenshot(page, "es-question-date-no-script")  # axe needs the page's script engine: scanned with it above
    page.context.close()


def test_the_other_spanish_pages_have_no_axe_violations(browser, served):
    server, db = served
    page = new_page(browser)
    page.goto(f"{server.url}/intake/language/es?next=/intake/")
    press(page, "Empezar las preguntas")
    check(page, "your-code")
    page.evaluate("() => { document.getElementById('idle-warning').hidden = false; }")
    check(page, "idle-warning")
    page.evaluate("() => { document.getElementById('idle-warning').hidden = true; }")
    page.get_by_role("link", name="Continuar").click()
    page.get_by_role("link", name="Empezar ahora").click()
    choose(page, "No sé")
    press(page, "Guardar y volver más tarde")
    check(page, "saved")
    press(page, "Salir del cuestionario")
    check(page, "ended")
    page.goto(f"{server.url}/intake/nowhere")
    check(page, "not-found")
    page.context.close()

    code, _ = invite(db)
    page = new_page(browser)
    page.goto(f"{server.url}/intake/code/{code}?lang=es")
    press(page, "Empezar")
    page.get_by_role("link", name="Empezar ahora").click()
    for _ in range(40):
        if question_id(page) == "red_flag_fever_or_wound":
            choose(page, "Sí")
            press(page, "Continuar")
            check(page, "red-flag-same-day")
            press(page, "Parar aquí")
            break
        answer_current(page, PLAN | {"red_flag_saddle_numbness": "No"})
    assert page.url.endswith("/intake/stopped")
    check(page, "stopped")
    page.context.close()

    page = new_page(browser)
    page.goto(f"{server.url}/intake/language/es?next=/intake/")
    for _ in range(11):
        page.get_by_label("Su código").fill("AAAAA-AAAAA")
        press(page, "Empezar")
    assert "Demasiados intentos" in page.inner_text("main")
    check(page, "too-many-tries")
    page.context.close()
