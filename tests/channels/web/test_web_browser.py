"""The patient questionnaire in a real browser (Debian chromium through Playwright): a whole intake on
a phone-sized window, going back and changing an answer, a red-flag page, leaving and returning with
the code, an intake with JavaScript off, and axe-core on every kind of page with zero violations.
Screenshots at 320 and 1024 px are kept in test-artefacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from support.web_browser import answer_current, check, choose, new_page, press, require_browser
from support.web_browser import served  # noqa: F401 (fixture)
from support.web import TODAY, invite

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()  # axe-core too (the shared session browser checks chromium and Playwright)


PLAN = {
    "fusion_date": {"Month": "3", "Year": "2024"},
    "fused_levels": ["L4-L5", "L5-S1"],
    "surgical_report_available": "Yes",
    "mri_available": "Yes",
    "mri_date": {"Month": "9", "Year": "2026"},
    "annular_tear_levels": ["L3-L4"],
    "pain_location": "In my back and my leg or buttock",
    "pain_quality": ["Aching", "Burning"],
    "pain_pattern_since_surgery": "It got better, then came back",
    "pain_score": "7",
    "hardware_problem_known": "No",
    "mechanical_symptoms": "I don't know",
}
KIND = {"fusion_date": "question-date", "fused_levels": "question-levels", "surgical_report_available": "question-yes-no",
        "pain_location": "question-choice", "pain_quality": "question-multi", "pain_score": "question-score"}


def test_a_whole_intake_on_a_phone_with_axe_on_every_kind_of_page(browser, served):
    server, db = served
    code, intake_id = invite(db, patient_id="PT-B1")
    page = new_page(browser)
    seen: set[str] = set()
    page.goto(f"{server.url}/intake/code/{code}")
    check(page, "start", seen)
    page.get_by_role("button", name="Start", exact=True).click()
    check(page, "intro", seen)
    page.get_by_role("link", name="Start now").click()

    # An error first: nothing entered on the date page.
    press(page, "Continue")
    assert page.locator(".error-summary").is_visible()
    assert page.evaluate("() => document.activeElement.classList.contains('error-summary')")
    check(page, "question-error", seen)
    page.get_by_role("link", name=re.compile("Enter the month and year")).click()
    assert page.evaluate("() => document.activeElement.id") == "fusion_date-month"

    plan = dict(PLAN, red_flag_saddle_numbness="Yes")
    for _ in range(40):
        if "/intake/warning/" in page.url:
            assert page.locator(".care-card--emergency").is_visible()
            check(page, "red-flag-emergency", seen)
            page.get_by_role("button", name="Continue with the questions").click()
            continue
        if "/intake/questions/" not in page.url:
            break
        qid = re.search(r"/intake/questions/([a-z_]+)", page.url).group(1)
        if qid in KIND:
            page.get_by_text("Help with this question").click()  # help opens
            check(page, KIND[qid], seen)
        answer_current(page, plan)
    assert page.url.endswith("/intake/check")
    check(page, "check-answers", seen)

    # Back and change an answer: the Change link, the page shows the answer, back to check.
    page.get_by_role("link", name="Change Where is your pain now?").click()
    assert page.get_by_label("In my back and my leg or buttock", exact=True).is_checked()
    choose(page, "Mostly in my leg or buttock")
    press(page, "Continue")
    assert page.url.endswith("/intake/check")
    assert "Mostly in my leg or buttock" in page.inner_text("main")

    # A change that hides questions says so, and the back link works.
    page.get_by_role("link", name=re.compile("^Change Can you get us a copy of an MRI")).click()
    choose(page, "No")
    press(page, "Continue")
    assert "Answers to questions that no longer apply are not sent." in page.inner_text("main")
    page.get_by_role("link", name=re.compile("^Change Can you get us a copy of an MRI")).click()
    choose(page, "Yes")
    press(page, "Continue")
    assert "September 2026" in page.inner_text("main")  # the kept answer came back

    page.get_by_role("button", name="Send answers").click()
    assert page.url.endswith("/intake/done")
    assert page.locator(".care-card--emergency").is_visible()
    check(page, "confirmation", seen)

    from triage.records.store import open_store

    with open_store(db) as store:
        record = store.get(intake_id)
    assert record.source == "web" and record.answers["pain_location"] == "leg"
    assert record.answers["fusion_date"] == "2024-03" and record.answers["red_flag_saddle_numbness"] == "yes"
    assert record.answers["assessment_date"] == TODAY.isoformat()
    page.context.close()


def test_leave_and_return_with_the_code(browser, served):
    server, db = served
    code, _ = invite(db)
    page = new_page(browser, width=1024)
    page.goto(f"{server.url}/intake/")
    page.get_by_label("Your code").fill(code.lower())
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_role("link", name="Start now").click()
    answer_current(page, PLAN)
    choose(page, "L4-L5")
    page.get_by_role("button", name="Save and come back later").click()
    assert code in page.inner_text("main")
    check(page, "saved")
    page.get_by_role("button", name="Leave the questionnaire").click()
    check(page, "ended")
    page.context.close()

    again = new_page(browser)
    again.goto(f"{server.url}/intake/")
    again.get_by_label("Your code").fill(code)
    again.get_by_role("button", name="Start", exact=True).click()
    again.get_by_role("link", name="Continue where you left off").click()
    assert again.url.endswith("/intake/questions/surgical_report_available")
    again.get_by_role("link", name="Back").click()
    assert again.get_by_label("L4-L5", exact=True).is_checked()
    again.context.close()


def test_a_whole_intake_without_javascript(browser, served):
    server, db = served
    code, intake_id = invite(db)
    page = new_page(browser, javascript=False)
    page.goto(f"{server.url}/intake/code/{code}")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_role("link", name="Start now").click()
    for _ in range(40):
        if "/intake/warning/" in page.url:
            page.get_by_role("button", name="Stop here").click()
            break
        if "/intake/questions/" not in page.url:
            break
        answer_current(page, dict(PLAN, red_flag_fever_or_wound="Yes"))
    assert page.url.endswith("/intake/stopped")
    assert "You stopped the questions" in page.inner_text("main")
    # "None" plus a level is refused by the server too (no script unticks it here).
    page.goto(f"{server.url}/intake/questions/annular_tear_levels")
    choose(page, "None")
    press(page, "Continue")
    assert "Select only" in page.inner_text(".error-summary")
    page.goto(f"{server.url}/intake/check")
    page.get_by_role("button", name="Send answers").click()
    # Warning-sign questions after the stop are still unanswered: asked for first, sending anyway allowed.
    assert "Please answer the questions about warning signs" in page.inner_text(".error-summary")
    page.get_by_role("button", name="Send without answering them").click()
    assert page.url.endswith("/intake/done")
    page.context.close()


def test_kiosk_idle_warning_and_the_other_pages_have_no_axe_violations(browser, served):
    server, db = served
    page = new_page(browser)
    page.goto(f"{server.url}/intake/")
    page.get_by_role("button", name="Start a new questionnaire").click()
    check(page, "your-code")
    page.evaluate("() => { document.getElementById('idle-warning').hidden = false; }")
    check(page, "idle-warning")
    page.goto(f"{server.url}/nowhere")
    check(page, "not-found")
    page.context.close()
    page = new_page(browser)
    page.goto(f"{server.url}/intake/")
    for _ in range(10):
        page.get_by_label("Your code").fill("AAAAA-AAAAA")
        page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_label("Your code").fill("AAAAA-AAAAA")
    page.get_by_role("button", name="Start", exact=True).click()
    assert "Too many tries" in page.inner_text("main")
    check(page, "too-many-tries")
    page.context.close()
