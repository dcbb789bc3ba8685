"""An idle page in a real browser (Debian chromium through Playwright). Without JavaScript the server
ends an idle session but cannot take the page off the screen: a patient's page on a shared tablet, a
staff page with patient information on a clinic workstation. The page's idle stylesheet covers it
with a notice when the idle time is up (a CSS animation delay, no timed refresh). The tests move the
page's animations to that moment with the Web Animations API instead of waiting 15 or 30 minutes.
With JavaScript the page script handles the idle end itself (the patient page warns and ends the
session; the staff page's alert poll reloads it to sign-in), and the cover is switched off."""

from __future__ import annotations

import re

import pytest

from support.web import PASSWORD, add_staff, invite, make_app
from support.web_browser import (Server, answer_current, answer_second_factor, axe_violations, layout_problems, new_page,
                                 require_browser, screenshot, serving)
from test_web_browser import PLAN
from test_web_staff import patient_with_red_flag

pytest.importorskip("flask")

IDLE_MS = 15 * 60 * 1000  # the default patient_idle_minutes
STAFF_IDLE_MS = 30 * 60 * 1000  # the default staff_idle_minutes


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


@pytest.fixture
def served(tmp_path):
    with serving(tmp_path) as both:
        yield both


def to_check_answers(page, base: str, code: str) -> None:
    page.goto(f"{base}/intake/code/{code}")
    page.get_by_role("button", name="Start", exact=True).click()
    page.get_by_role("link", name="Start now").click()
    for _ in range(40):
        if "/intake/warning/" in page.url:
            page.get_by_role("button", name="Continue with the questions").click()
        elif "/intake/questions/" in page.url:
            answer_current(page, PLAN)
        else:
            break
    assert page.url.endswith("/intake/check")
    page.wait_for_load_state()  # its stylesheets too (a click waits only for the navigation to start)


IDLE_ANIMATIONS = """() => document.getAnimations().filter(a => a.animationName && a.animationName.startsWith('idle-'))
    .map(a => ({name: a.animationName, delay: a.effect.getTiming().delay}))"""


def visible(page, selector: str) -> bool:
    return page.evaluate("(s) => getComputedStyle(document.querySelector(s)).visibility === 'visible'", selector)


def test_without_javascript_the_page_is_covered_when_the_idle_time_is_up(browser, served):
    server, db = served
    code, _ = invite(db, patient_id="PT-IDLE")
    page = new_page(browser, width=320, javascript=False)
    to_check_answers(page, server.url, code)
    assert page.evaluate(IDLE_ANIMATIONS) == [{"name": "idle-hide", "delay": IDLE_MS},
                                              {"name": "idle-show", "delay": IDLE_MS}]
    # Before the time: the answers are there, the cover is not (nor is it read by a screen reader).
    assert visible(page, "main") and not visible(page, "#idle-cover")
    assert "Where is your pain now?" in page.inner_text("main")
    assert page.get_by_role("heading", name="For your privacy, we closed the questionnaire").count() == 0

    # The moment the server ends the session: the page's own content is hidden, the notice covers it.
    page.evaluate(f"() => document.getAnimations().forEach(a => {{ a.currentTime = {IDLE_MS}; }})")
    assert not visible(page, "main") and visible(page, "#idle-cover")
    assert page.get_by_role("heading", name="For your privacy, we closed the questionnaire").is_visible()
    assert page.get_by_role("button", name="Send answers").count() == 0  # not reachable, not even by keyboard
    assert page.locator("dt", has_text="Where is your pain now?").is_hidden()
    link = page.get_by_role("link", name="Enter your code")
    assert link.get_attribute("href") == "/intake/"
    assert layout_problems(page, "#idle-cover") == []
    screenshot(page, "idle-cover-without-javascript")
    page.context.close()


def test_with_javascript_the_script_warns_and_the_cover_is_off(browser, served):
    server, db = served
    code, _ = invite(db)
    page = new_page(browser, width=1024)
    to_check_answers(page, server.url, code)
    assert page.evaluate("() => document.documentElement.classList.contains('idle-script')")
    assert page.evaluate(IDLE_ANIMATIONS) == []
    assert re.search(r"data-idle-seconds=\"900\"", page.content())
    # The covered page passes axe-core (which needs the script on): the cover put back by hand.
    page.evaluate(f"""() => {{ document.documentElement.classList.remove('idle-script');
        document.getAnimations().forEach(a => {{ a.currentTime = {IDLE_MS}; }}); }}""")
    assert visible(page, "#idle-cover") and not visible(page, "main")
    assert axe_violations(page) == []
    page.context.close()


# --- staff pages ------------------------------------------------------------------------------------

@pytest.fixture
def staff_served(tmp_path):
    """A server with a clinician and one sent intake (a red flag still open): (server, intake id)."""
    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    app = make_app(db)
    intake_id = patient_with_red_flag(app, db, patient_id="PT-STAFF-IDLE")
    server = Server(app)
    try:
        yield server, intake_id
    finally:
        server.stop()


def staff_summary(page, server, intake_id: int) -> str:
    """Signed in as the clinician, on the intake's summary (through the sign-in page's next=)."""
    base = server.url
    path = f"/staff/intakes/{intake_id}"
    page.goto(base + path)
    page.get_by_label("User name").fill("clint")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    answer_second_factor(page, server.app, "clint")
    page.wait_for_url(base + path)
    page.wait_for_load_state()  # its stylesheets too
    return path


def move_to(page, ms: int) -> None:
    page.evaluate(f"() => document.getAnimations().forEach(a => {{ a.currentTime = {ms}; }})")


def test_without_javascript_a_staff_page_is_covered_when_the_idle_time_is_up(browser, staff_served):
    server, intake_id = staff_served
    page = new_page(browser, width=1024, javascript=False)
    path = staff_summary(page, server, intake_id)
    assert page.evaluate(IDLE_ANIMATIONS) == [{"name": "idle-hide", "delay": STAFF_IDLE_MS},
                                              {"name": "idle-show", "delay": STAFF_IDLE_MS}]
    # Before the time: the summary is there, the cover is not (nor is it read by a screen reader).
    assert visible(page, "main") and not visible(page, "#idle-cover")
    assert "PT-STAFF-IDLE" in page.inner_text("main")
    assert page.get_by_role("heading", name="Page hidden after 30 idle minutes").count() == 0

    # The moment the server ends the session: the summary is hidden, the notice covers the screen.
    move_to(page, STAFF_IDLE_MS)
    assert not visible(page, "main") and visible(page, "#idle-cover")
    assert page.get_by_role("heading", name="Page hidden after 30 idle minutes").is_visible()
    assert page.get_by_text("PT-STAFF-IDLE").is_hidden()
    assert page.get_by_role("heading", name=f"Intake {intake_id}: PT-STAFF-IDLE").count() == 0  # not even read out
    assert page.get_by_role("button", name="Acknowledge the red flag").count() == 0  # nor reachable by keyboard
    link = page.get_by_role("link", name="Show this page again")
    assert link.get_attribute("href") == path
    assert layout_problems(page, "#idle-cover") == []
    shots = screenshot(page, "staff-idle-cover-without-javascript")
    assert len(shots) == 2

    # The link shows the same page again (the session is still on in this test: no time passed).
    link.click()
    page.wait_for_url(server.url + path)
    page.wait_for_load_state()
    assert visible(page, "main") and not visible(page, "#idle-cover")
    assert "PT-STAFF-IDLE" in page.inner_text("main")
    page.context.close()


def test_with_javascript_the_alert_poll_handles_a_staff_page_and_the_cover_is_off(browser, staff_served):
    server, intake_id = staff_served
    page = new_page(browser, width=1024)
    staff_summary(page, server, intake_id)
    assert page.evaluate("() => document.documentElement.classList.contains('idle-script')")
    assert page.evaluate(IDLE_ANIMATIONS) == []
    assert visible(page, "main") and not visible(page, "#idle-cover")
    # The covered page passes axe-core (which needs the script on): the cover put back by hand.
    page.evaluate("() => document.documentElement.classList.remove('idle-script')")
    move_to(page, STAFF_IDLE_MS)
    assert visible(page, "#idle-cover") and not visible(page, "main")
    assert axe_violations(page) == []
    page.context.close()


def print_view(page, server, intake_id: int) -> str:
    """Signed in as the clinician, on the intake's print view: its path (with its query)."""
    base = server.url
    staff_summary(page, server, intake_id)
    path = f"/staff/intakes/{intake_id}/print?version=1"
    page.goto(base + path)
    page.wait_for_load_state()
    return path


def test_the_print_view_is_covered_on_screen_when_the_idle_time_is_up_and_still_prints(browser, staff_served):
    """The print view has no script and a policy of its own: its hashed style blocks cover it, on
    screen only. The page's own policy applies here (no bypass), so a style it blocked would show."""
    server, intake_id = staff_served
    context = browser.new_context(viewport={"width": 1024, "height": 640}, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    path = print_view(page, server, intake_id)
    assert page.evaluate(IDLE_ANIMATIONS) == [{"name": "idle-hide", "delay": STAFF_IDLE_MS},
                                              {"name": "idle-show", "delay": STAFF_IDLE_MS}]
    assert visible(page, "main") and page.locator("#idle-cover").is_hidden()
    assert "PT-STAFF-IDLE" in page.inner_text("main")

    # The moment the server ends the session: the summary is hidden, the staff pages' notice covers it.
    move_to(page, STAFF_IDLE_MS)
    assert not visible(page, "main") and visible(page, "#idle-cover")
    assert page.get_by_role("heading", name="Page hidden after 30 idle minutes").is_visible()
    assert page.get_by_text("PT-STAFF-IDLE").is_hidden()
    assert page.get_by_role("heading", name="Pre-consultation triage").count() == 0  # not even read out
    link = page.get_by_role("link", name="Show this page again")
    assert link.get_attribute("href") == path
    assert layout_problems(page, "#idle-cover") == []
    screenshot(page, "staff-print-idle-cover-without-javascript")

    # Printed now, it is still the summary, never the notice (nor a blank page).
    page.emulate_media(media="print")
    assert page.evaluate(IDLE_ANIMATIONS) == []
    assert visible(page, "main") and page.locator("main").is_visible() and page.locator("#idle-cover").is_hidden()
    assert "PT-STAFF-IDLE" in page.inner_text("main")
    assert page.get_by_role("heading", name="Page hidden after 30 idle minutes").count() == 0
    page.emulate_media(media="screen")

    # The link shows the same print view again (the session is still on in this test).
    move_to(page, STAFF_IDLE_MS)
    link.click()
    page.wait_for_url(server.url + path)
    page.wait_for_load_state()
    assert visible(page, "main") and page.locator("#idle-cover").is_hidden()
    assert "PT-STAFF-IDLE" in page.inner_text("main")
    assert refused == []
    context.close()


def test_the_covered_print_view_passes_axe(browser, staff_served):
    server, intake_id = staff_served
    page = new_page(browser, width=1024)  # axe-core needs the script on (and the policy bypassed)
    print_view(page, server, intake_id)
    assert page.evaluate(IDLE_ANIMATIONS) != []  # no page script switches the cover off here
    move_to(page, STAFF_IDLE_MS)
    assert visible(page, "#idle-cover") and not visible(page, "main")
    assert axe_violations(page) == []
    page.context.close()
