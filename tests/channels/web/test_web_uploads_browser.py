"""The records pages in a real browser (Debian chromium through Playwright; issue 30, items 2, 5, 6):
at 320 px, with and without JavaScript, in English and Spanish, a patient sends a photo and a PDF,
sees them listed, gets a plain error for an SVG, removes a wrong file; axe-core on each page; the
checklist prints on one A4 and one Letter page. Screenshots and the printed pages (as PNG) are kept
in test-artefacts/screenshots/ (records-*.png, checklist-*.png: the patient's records pages)."""

from __future__ import annotations

import io

import pytest

from support import hostile_files as files
from support.web import Clock
from support.web_browser import ARTEFACTS, axe_violations, layout_problems, require_browser, screenshot, serving

pytest.importorskip("flask")

ANSWERS = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "no",
           "mri_available": "no", "pain_location": "back", "pain_quality": ["aching"],
           "pain_pattern_since_surgery": "never_improved", "pain_score": 6, "hardware_problem_known": "no",
           "mechanical_symptoms": "no", "veteran": "no"}
WORDS = {
    "en": {"start": "Start", "send": "Send", "remove": "Remove", "added": "We added 1 file.", "sent": "Send answers",
           "wrong": "is not a photo or a PDF", "offer": "Send photos of your records", "one_page": "1 page",
           "pages": "2 pages"},
    "es": {"start": "Empezar", "send": "Enviar", "remove": "Quitar", "added": "Agregamos 1 archivo.",
           "sent": "Enviar respuestas", "wrong": "no es una foto ni un PDF", "offer": "Envíe fotos de sus informes",
           "one_page": "1 página", "pages": "2 páginas"},
}


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def invite_ready_to_send(db, language: str) -> str:
    """An invitation whose draft holds every answer (no operative report, no MRI): the patient only
    presses Send on the check page."""
    from triage.records import invites
    from triage.core.answers import RED_FLAGS
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(db) as store:
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator",
                            answers={**ANSWERS, **{flag: "no" for flag in RED_FLAGS}}, language=language)
    return code


def new_page(browser, *, javascript: bool, width: int = 320):
    context = browser.new_context(viewport={"width": width, "height": 640}, bypass_csp=True,
                                  java_script_enabled=javascript)
    context.set_default_timeout(10_000)
    return context.new_page()


def clean(page, name: str, javascript: bool = True) -> None:
    """axe-core (it runs as a page script: with JavaScript on), the layout at 320 px, a screenshot."""
    if javascript:
        assert axe_violations(page) == [], name
    assert layout_problems(page) == [], name
    screenshot(page, name, widths=(320,))


def choose(page, field: str, *chosen: tuple[bytes, str, str]) -> None:
    page.set_input_files(f"#{field}", [{"name": name, "mimeType": kind, "buffer": data} for data, name, kind in chosen])


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_patient_sends_records_after_sending_the_answers(browser, tmp_path, language, javascript):
    words = WORDS[language]
    tag = f"{language}-{'js' if javascript else 'nojs'}"
    with serving(tmp_path, clock=Clock()) as (server, db):
        page = new_page(browser, javascript=javascript)
        page.goto(f"{server.url}/intake/code/{invite_ready_to_send(db, language)}?lang={language}")
        page.get_by_role("button", name=words["start"], exact=True).click()
        page.wait_for_url("**/intake/start")
        page.goto(f"{server.url}/intake/check")
        with page.expect_navigation():
            page.get_by_role("button", name=words["sent"], exact=True).click()
        assert page.url.endswith("/intake/done")
        clean(page, f"records-done-{tag}", javascript)
        with page.expect_navigation():
            page.get_by_role("link", name=words["offer"]).first.click()
        assert page.url.endswith("/intake/records")
        clean(page, f"records-empty-{tag}", javascript)

        choose(page, "file-surgical_report", (files.jpeg(1200, 1600, gps=True), "IMG_2041.jpg", "image/jpeg"))
        with page.expect_navigation():
            page.locator("#item-surgical_report button[type=submit]").last.click()
        assert words["added"] in page.inner_text("main")
        choose(page, "file-current_mri", (files.pdf(2), "mri.pdf", "application/pdf"))
        with page.expect_navigation():
            page.locator("#item-current_mri button[type=submit]").last.click()
        assert page.locator(".file-list__name").all_inner_texts() == ["IMG_2041.jpg", "mri.pdf"]
        assert page.locator(".file-list__pages").all_inner_texts() == [words["one_page"], words["pages"]]
        clean(page, f"records-sent-{tag}", javascript)

        choose(page, "file-current_mri", (files.SVG, "scan.png", "image/png"))
        with page.expect_navigation():
            page.locator("#item-current_mri button[type=submit]").last.click()
        assert words["wrong"] in page.locator(".error-summary").inner_text()
        clean(page, f"records-error-{tag}", javascript)

        with page.expect_navigation():
            page.locator("#item-surgical_report .file-list__remove button").click()
        assert page.locator(".file-list__row").count() == 1
        page.close()


def test_the_checklist_prints_on_one_a4_and_one_letter_page(browser, tmp_path):
    """Printed from the browser (chromium's print to PDF, as a patient's Print does), counted with
    pypdf, and each page kept as a PNG (pdftoppm) to look at."""
    import shutil
    import subprocess

    from pypdf import PdfReader

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with serving(tmp_path, clock=Clock()) as (server, db):
        for language in ("en", "es"):
            page = new_page(browser, javascript=True, width=1024)
            page.goto(f"{server.url}/intake/code/{invite_ready_to_send(db, language)}?lang={language}")
            page.get_by_role("button", name=WORDS[language]["start"], exact=True).click()
            page.wait_for_url("**/intake/start")
            page.goto(f"{server.url}/intake/checklist")
            assert page.locator("button[data-print]").is_visible()  # the script shows its Print button
            assert axe_violations(page) == []
            page.emulate_media(media="print")
            for paper in ("A4", "Letter"):
                pdf = page.pdf(format=paper, print_background=False)
                assert len(PdfReader(io.BytesIO(pdf)).pages) == 1, (language, paper)
                path = ARTEFACTS / f"checklist-{language}-{paper}.pdf"
                path.write_bytes(pdf)
                if shutil.which("pdftoppm"):
                    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(path), str(path.with_suffix(""))],
                                   check=True)
            text = page.inner_text("main")
            assert ("surgeon" in text) if language == "en" else ("cirujano" in text)
            page.close()


def test_staff_download_a_sent_file_from_the_summary_and_the_browser_saves_it(browser, tmp_path):
    """The summary's link downloads the file (an attachment under a sandboxing policy: the browser
    saves it, never shows it from our origin); axe-core on the summary with its files."""
    from support.web import PASSWORD, add_staff
    from support.web_browser import answer_second_factor
    from triage.records import invites
    from triage.records.store import open_store

    with serving(tmp_path, clock=Clock()) as (server, db):
        code = invite_ready_to_send(db, "en")
        page = new_page(browser, javascript=True)
        page.goto(f"{server.url}/intake/code/{code}")
        page.get_by_role("button", name="Start", exact=True).click()
        page.wait_for_url("**/intake/start")
        page.goto(f"{server.url}/intake/check")
        with page.expect_navigation():
            page.get_by_role("button", name="Send answers", exact=True).click()
        page.goto(f"{server.url}/intake/records")
        sent = files.pdf(2)
        choose(page, "file-current_mri", (sent, "mri report.pdf", "application/pdf"))
        with page.expect_navigation():
            page.locator("#item-current_mri button[type=submit]").last.click()
        page.close()
        with open_store(db) as store:
            intake_id = store.find_invite(invites.code_hash(code)).intake_id

        add_staff(db, "clint", "clinician")
        staff = browser.new_context(viewport={"width": 1024, "height": 800}, bypass_csp=True,
                                    accept_downloads=True).new_page()
        staff.set_default_timeout(10_000)
        staff.goto(f"{server.url}/staff/")
        staff.get_by_label("User name").fill("clint")
        staff.get_by_label("Password", exact=True).fill(PASSWORD)
        staff.get_by_role("button", name="Sign in").click()
        answer_second_factor(staff, server.app, "clint")
        staff.goto(f"{server.url}/staff/intakes/{intake_id}")
        assert axe_violations(staff) == []
        screenshot(staff, "records-staff-summary", widths=(1024,))
        with staff.expect_download() as download:
            staff.get_by_role("link", name="mri report.pdf").click()
        saved = tmp_path / "saved.pdf"
        download.value.save_as(saved)
        assert download.value.suggested_filename == "mri report.pdf"
        assert saved.read_bytes() == sent
        assert staff.url.endswith(f"/staff/intakes/{intake_id}")  # still on the summary: nothing was shown
