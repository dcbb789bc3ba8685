"""The emergency card and the patient's path in a real browser (Debian chromium through Playwright):
on phone widths the call link is the first thing to press, on the reception tablet the card says to
tell the desk, the done page leads with the card, and check asks for the warning-sign questions
first; axe-core on each page. Screenshots are kept in test-artefacts/screenshots/ (patient-*.png)."""

from __future__ import annotations

import pytest

from support.web_browser import axe_violations, require_browser, screenshot, serving
from support.web import Clock

pytest.importorskip("flask")

PHONES = (320, 360, 390)
# Everything before the red flags, as the store keeps it, so a test starts at the warning signs.
BEFORE_FLAGS = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
                "mri_available": "no", "pain_location": "back", "pain_quality": ["aching"],
                "pain_pattern_since_surgery": "never_improved", "pain_score": 6, "hardware_problem_known": "no",
                "mechanical_symptoms": "no"}


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def invite_with(db, answers: dict) -> str:
    from triage.records import invites
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(db) as store:
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator", answers=answers)
    return code


def new_page(browser, width: int, height: int = 640):
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    context.set_default_timeout(10_000)
    return context.new_page()


def open_intake(page, url: str, code: str) -> None:
    page.goto(f"{url}/intake/code/{code}")
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_url("**/intake/start")


def answer_yes(page, url: str, qid: str) -> None:
    page.goto(f"{url}/intake/questions/{qid}")
    page.get_by_label("Yes", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.wait_for_url(f"**/intake/warning/{qid}**")


def no_violations(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"


@pytest.mark.parametrize("width", PHONES)
def test_on_a_phone_the_emergency_card_offers_the_call_first_and_in_view(browser, tmp_path, width):
    with serving(tmp_path, clock=Clock()) as (server, db):
        page = new_page(browser, width)
        open_intake(page, server.url, invite_with(db, BEFORE_FLAGS))
        answer_yes(page, server.url, "red_flag_saddle_numbness")
        call = page.get_by_role("link", name="Call 911")
        assert call.get_attribute("href") == "tel:911"
        box = call.bounding_box()
        # In view without scrolling on a phone held upright, and big enough to press.
        assert box["y"] + box["height"] <= 640 and box["height"] >= 44, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
        # The first control after the skip link, back link and language switch is the call.
        order = page.evaluate("""() => Array.from(document.querySelectorAll('main a[href], main button'))
            .map(e => e.textContent.trim())""")
        assert order[0] == "Call 911" and order.index("Continue with the questions") > 0
        # A later, calmer yes keeps the emergency card first.
        page.get_by_role("button", name="Continue with the questions").click()
        answer_yes(page, server.url, "red_flag_immunosuppression")
        assert page.locator(".care-card").first.get_attribute("class") == "care-card care-card--emergency"
        assert page.get_by_role("link", name="Call 911").is_visible()
        no_violations(page, f"warning-{width}")
        screenshot(page, "patient-emergency-then-soon", widths=(width,))
        page.context.close()


def test_on_the_reception_tablet_the_emergency_card_says_tell_the_desk(browser, tmp_path):
    with serving(tmp_path, clock=Clock(), kiosk=True) as (server, db):
        page = new_page(browser, 1024, 768)
        open_intake(page, server.url, invite_with(db, BEFORE_FLAGS))
        answer_yes(page, server.url, "red_flag_bladder_bowel")
        desk = page.get_by_text("Tell the reception desk now", exact=True)
        assert desk.is_visible()
        assert page.locator('a[href^="tel:"]').count() == 0
        box = desk.bounding_box()
        assert box["y"] + box["height"] <= 768
        no_violations(page, "warning-kiosk")
        screenshot(page, "patient-emergency-kiosk", widths=(1024, 320))
        page.context.close()


def test_the_done_page_leads_with_the_card_and_check_asks_for_warning_signs_first(browser, tmp_path):
    with serving(tmp_path, clock=Clock()) as (server, db):
        page = new_page(browser, 320)
        open_intake(page, server.url, invite_with(db, BEFORE_FLAGS))
        page.goto(f"{server.url}/intake/check")
        no_violations(page, "check-midway")
        screenshot(page, "patient-check-midway", widths=(320,))
        page.get_by_role("button", name="Send answers").click()
        assert page.get_by_text("Please answer the questions about warning signs").is_visible()
        no_violations(page, "check-warning-signs-first")
        screenshot(page, "patient-check-warning-signs-first", widths=(320, 1024))
        page.locator('.error-summary a[href="/intake/questions/red_flag_bladder_bowel?change=1"]').click()
        page.get_by_label("Yes", exact=True).check()
        page.get_by_role("button", name="Continue", exact=True).click()
        page.get_by_role("button", name="Stop here").click()
        page.goto(f"{server.url}/intake/check")
        page.get_by_role("button", name="Send answers").click()
        page.get_by_role("button", name="Send without answering them").click()
        page.wait_for_url("**/intake/done")
        headings = page.locator("main h1, main h2").all_inner_texts()
        assert headings[0].endswith("Get help now") and "Answers sent" in headings[1]
        assert page.get_by_text("Do not wait for a call", exact=False).is_visible()
        no_violations(page, "done-emergency")
        screenshot(page, "patient-done-emergency", widths=(320, 1024))
        page.context.close()


def test_in_spanish_the_emergency_card_offers_the_call_first_too(browser, tmp_path):
    from triage.records import invites
    from triage.records.store import open_store

    with serving(tmp_path, clock=Clock()) as (server, db):
        code = invites.new_code()
        with open_store(db) as store:
            store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator",
                                answers=BEFORE_FLAGS, language="es")
        page = new_page(browser, 320)
        page.goto(f"{server.url}/intake/code/{code}?lang=es")
        page.get_by_role("button", name="Empezar", exact=False).click()
        page.wait_for_url("**/intake/start")
        page.goto(f"{server.url}/intake/questions/red_flag_both_legs")
        page.get_by_label("Sí", exact=True).check()
        page.get_by_role("button", name="Continuar", exact=True).click()
        page.wait_for_url("**/intake/warning/red_flag_both_legs**")
        call = page.get_by_role("link", name="Llame al 911")
        box = call.bounding_box()
        assert call.get_attribute("href") == "tel:911" and box["y"] + box["height"] <= 640
        no_violations(page, "warning-es")
        screenshot(page, "patient-emergency-es", widths=(320, 1024))
        page.context.close()
