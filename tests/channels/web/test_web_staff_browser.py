"""Staff and patient in one real browser (Debian chromium through Playwright), against one server: a
coordinator invites, a patient answers an emergency red flag on a phone, the clinician sees the alert
appear without reloading, opens the summary, prints it (PDF through the browser: one page, A4 and
Letter), and acknowledges. axe-core finds nothing on any staff page; screenshots are kept."""

from __future__ import annotations

import re

import pytest

from support.web_browser import ARTEFACTS, Server, answer_second_factor, axe_violations, require_browser, screenshot
from support.web import PASSWORD, add_staff, make_app

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()  # axe-core too (the shared session browser checks chromium and Playwright)


def new_page(browser, width=1024):
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)  # test only: axe
    context.set_default_timeout(15_000)
    return context.new_page()


def check(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    screenshot(page, name)


def sign_in(page, server, name: str, checked: bool = False) -> None:
    page.goto(f"{server.url}/staff/")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    answer_second_factor(page, server.app, name, check if checked else None)


def test_a_password_can_be_shown_to_check_it_and_is_hidden_again_when_sent(browser, tmp_path):
    """ASVS 2.1.12: a Show button beside each password box (sign-in and change-password pages), with
    JavaScript only; the box is hidden again when the form is sent. axe-core finds nothing."""
    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    server = Server(make_app(db))
    try:
        page = new_page(browser, width=320)
        page.goto(f"{server.url}/staff/")
        box = page.get_by_label("Password", exact=True)
        box.fill(PASSWORD)
        show = page.get_by_role("button", name="Show password")
        assert box.get_attribute("type") == "password" and show.inner_text() == "Show"
        show.click()
        assert box.get_attribute("type") == "text" and box.input_value() == PASSWORD
        hide = page.get_by_role("button", name="Hide password")
        assert hide.get_attribute("aria-controls") == "password" and hide.inner_text() == "Hide"
        assert page.locator("[data-password-status]").inner_text() == "Your password is shown"
        check(page, "staff-sign-in-password-shown")
        hide.click()
        assert box.get_attribute("type") == "password"
        show.click()  # shown when sent: the browser must not keep it as text
        page.get_by_label("User name").fill("cora")
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        answer_second_factor(page, server.app, "cora")
        page.goto(f"{server.url}/staff/password")
        for label in ("Current password", "New password", "New password again"):
            page.get_by_role("button", name=f"Show {label[0].lower()}{label[1:]}", exact=True).click()
            assert page.get_by_label(label, exact=True).get_attribute("type") == "text"
        check(page, "staff-password-shown")
        page.go_back()
        page.go_forward()  # back on the page from the browser's history: hidden again
        assert {page.get_by_label(label, exact=True).get_attribute("type") for label in
                ("Current password", "New password", "New password again")} == {"password"}
        page.context.close()

        context = browser.new_context(java_script_enabled=False)
        plain = context.new_page()
        plain.goto(f"{server.url}/staff/")
        assert plain.get_by_role("button", name="Show password").count() == 0  # no button that cannot work
        context.close()
    finally:
        server.stop()


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_invite_red_flag_alert_summary_print_acknowledge(browser, tmp_path):
    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    add_staff(db, "clint", "clinician")
    server = Server(make_app(db))
    try:
        base = server.url
        coordinator = new_page(browser)
        coordinator.goto(f"{base}/staff/")
        check(coordinator, "staff-sign-in")
        sign_in(coordinator, server, "cora", checked=True)
        check(coordinator, "staff-worklist-empty")
        coordinator.get_by_role("link", name="Invite a patient").click()
        check(coordinator, "staff-invite")
        coordinator.get_by_label("Patient reference (optional)").fill("P-BROWSER")
        coordinator.get_by_role("button", name="Create the code").click()
        check(coordinator, "staff-invite-ready")
        link = coordinator.locator("main a[href*='/intake/code/']").get_attribute("href")

        clinician = new_page(browser)
        sign_in(clinician, server, "clint")
        assert clinician.locator("#alert-banner").is_hidden()
        navigations = []
        clinician.on("framenavigated", lambda frame: navigations.append(frame.url))

        patient = new_page(browser, width=320)
        patient.goto(link)
        patient.get_by_role("button", name="Start", exact=True).click()
        patient.get_by_role("link", name="Start now").click()
        for _ in range(40):
            qid = re.search(r"/intake/questions/([a-z_]+)", patient.url).group(1)
            if qid == "red_flag_bladder_bowel":
                patient.get_by_label("Yes", exact=True).check()
                patient.get_by_role("button", name="Continue", exact=True).click()
                break
            patient.get_by_label("I don't know", exact=True).check()
            patient.get_by_role("button", name="Continue", exact=True).click()
        assert "/intake/warning/" in patient.url

        # The clinician's open page shows the alert without a reload, within the poll's 5 seconds.
        clinician.locator("#alert-banner").wait_for(state="visible", timeout=12_000)
        assert "1 intake with a red flag not yet acknowledged (1 emergency)" in clinician.inner_text("#alert-banner")
        assert navigations == []
        check(clinician, "staff-worklist-alert")

        clinician.locator("#alert-banner a").click()
        check(clinician, "staff-alerts")
        clinician.get_by_role("link", name="1", exact=True).click()
        assert clinician.get_by_role("button", name="Acknowledge the red flag").is_visible()
        check(clinician, "staff-draft-summary")

        # The patient finishes (stops here); the intake is sent by the patient from the check page.
        patient.get_by_role("button", name="Continue with the questions").click()
        while "/intake/questions/" in patient.url:
            patient.get_by_label("I don't know", exact=True).check()
            patient.get_by_role("button", name="Continue", exact=True).click()
        patient.get_by_role("button", name="Send answers").click()
        assert patient.url.endswith("/intake/done")

        clinician.reload()
        assert "Physician consult: recommended (emergency)" in clinician.inner_text("main")
        check(clinician, "staff-summary")
        clinician.get_by_role("link", name="Print view").click()
        assert "Pre-consultation triage" in clinician.inner_text("body")
        violations = axe_violations(clinician)
        assert violations == [], violations
        screenshot(clinician, "staff-print-view")
        for paper in ("A4", "Letter"):
            data = clinician.pdf(format=paper, print_background=True)
            assert pdf_pages(data) == 1, paper
            (tmp_path / f"summary-{paper}.pdf").write_bytes(data)
        from support.web_browser import ARTEFACTS

        (ARTEFACTS / "staff-print-A4.pdf").write_bytes(clinician.pdf(format="A4", print_background=True))
        clinician.go_back()
        clinician.get_by_role("button", name="Acknowledge the red flag").click()
        clinician.goto(f"{base}/staff/alerts")
        assert "None: every red flag has been acknowledged." in clinician.inner_text("main")
        assert clinician.locator("#alert-banner").is_hidden()
        check(clinician, "staff-alerts-empty")

        coordinator.goto(f"{base}/staff/")
        check(coordinator, "staff-worklist")
        for page in (coordinator, clinician, patient):
            page.context.close()
    finally:
        server.stop()


SCREEN = {"width": 1024, "height": 768}
TYPICAL = {  # a whole web intake (support.web.FULL_INTAKE), as it is sent, with these answers changed
    "complete": {},
    "emergency": {"red_flag_bladder_bowel": {"answer": "yes"}},
    "same-day": {"red_flag_fever_or_wound": {"answer": "yes"}},
}


def test_the_summary_of_a_typical_intake_fits_one_screen_at_1024_by_768(browser, tmp_path):
    """Everything `triage show` has, on one 1024 x 768 screen for a whole intake as patients send it,
    including an emergency and a same-day red flag with the alert still open and the clinician's
    Acknowledge button. (An intake with records missing, unknown answers and a veteran's VA topic
    runs longer: the page scrolls, nothing is cut.) Narrower windows get two columns, then one."""
    from support.web import Patient, answer_all, invite

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    app = make_app(db)
    intakes = {}
    for name, changed in TYPICAL.items():
        code, intake_id = invite(db, patient_id=f"P-{name.upper()}")
        patient = Patient(app.test_client()).open_code(code)
        patient.get(re.search(r'href="(/intake/questions/[a-z_]+)"', patient.page).group(1))
        answer_all(patient, changed).post(data={})
        assert patient.path == "/intake/done"
        intakes[name] = intake_id
    server = Server(make_app(db))
    try:
        context = browser.new_context(viewport=SCREEN, bypass_csp=True)  # test only: axe
        page = context.new_page()
        sign_in(page, server, "clint")
        for name, intake_id in intakes.items():
            page.goto(f"{server.url}/staff/intakes/{intake_id}")
            height = page.evaluate("() => document.documentElement.scrollHeight")
            assert height <= SCREEN["height"], f"{name}: {height}px tall"
            assert page.locator("footer").bounding_box()["y"] + page.locator("footer").bounding_box()["height"] <= SCREEN["height"]
            assert page.evaluate("() => document.documentElement.scrollWidth") <= SCREEN["width"]
            if name != "complete":
                assert page.get_by_role("button", name="Acknowledge the red flag").is_visible()
                assert page.locator(".tag--red").count() == 1  # its yes, among every red-flag answer
            assert page.get_by_role("heading", name="Decision steps").is_visible()
            for folded in ("Rules that fired, with sources", "Ruleset fbss-triage", "Version 1 of 1"):
                assert page.locator("summary", has_text=folded).is_visible()  # folded, with the essential in view
            violations = axe_violations(page)
            assert violations == [], f"{name}: {violations}"
            page.screenshot(path=str(ARTEFACTS / f"staff-summary-{name}-1024x768.png"))
            screenshot(page, f"staff-summary-{name}")  # 320 and 1024 px, full page: never sideways
        page.locator("summary", has_text="Rules that fired").click()  # unfolds: every rule with its source
        assert page.locator(".details__text", has_text="Source:").first.is_visible()
        context.close()
    finally:
        server.stop()


def test_staff_see_their_sessions_and_end_another_in_a_browser(browser, tmp_path):
    """Two processes on one store behind no balancer: signed in on one, the other browser's session
    (served by the other process) is listed and ended from the sessions page; axe finds nothing."""
    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    first, second = Server(make_app(db)), Server(make_app(db))
    try:
        desk, laptop = new_page(browser), new_page(browser)
        sign_in(desk, first, "cora")
        sign_in(laptop, second, "cora")
        desk.get_by_role("link", name="cora (coordinator)").click()
        assert desk.url.endswith("/staff/sessions")
        assert desk.locator("#sessions-table tbody tr").count() == 2
        check(desk, "staff-sessions")
        desk.get_by_role("button", name=re.compile(r"^End the session on")).click()
        assert desk.locator("#sessions-ended").inner_text() == "1 other session ended."
        assert desk.locator("#sessions-table tbody tr").count() == 1
        laptop.reload()
        assert "/staff/sign-in" in laptop.url
        desk.goto(f"{first.url}/staff/")
        assert desk.url.endswith("/staff/")
        for page in (desk, laptop):
            page.context.close()
    finally:
        first.stop()
        second.stop()
