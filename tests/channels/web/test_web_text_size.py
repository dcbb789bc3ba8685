"""The patient pages with the browser's text size at 200% (WCAG 1.4.4 Resize text), in a real browser
(Debian chromium through Playwright), on a phone (320 px) and a tablet or laptop (1024 px): every kind
of patient page is read for sideways scrolling, anything outside the window, text cut off, controls on
top of each other and controls that cannot be scrolled to and pressed. Screenshots are kept in
test-artefacts/screenshots/ (text-200-*.png) for people to look at.

The text size is the browser's own setting (its default font size doubled), as a person with low
vision sets it; the pages size text in rem/em and place their breakpoints in em, so they follow it."""

from __future__ import annotations

import re

import pytest

from support.web import invite
from support.web_browser import ARTEFACTS, LargerText, answer_current, choose, layout_problems, press, require_browser
from support.web_browser import served  # noqa: F401 (fixture)
from test_web_browser import PLAN

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


class Pages:
    """Checks each kind of page once and keeps its screenshot."""

    def __init__(self, page, width: int):
        self.page, self.width, self.seen, self.problems = page, width, [], {}
        self.text = LargerText(page, 200)

    def check(self, name: str, scope: str | None = None) -> None:
        if name in self.seen:
            return
        self.seen.append(name)
        self.page.wait_for_load_state()
        assert self.text.root_size() == "32px", name  # the setting holds: 200% of 16px
        found = layout_problems(self.page, scope)
        if found:
            self.problems[name] = found
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        self.text.screenshot(ARTEFACTS / f"text-200-{name}-{self.width}.png")


@pytest.mark.parametrize("width", [320, 1024])
def test_every_kind_of_patient_page_is_usable_with_text_at_200_percent(browser, served, width):
    server, db = served
    code, _ = invite(db, patient_id="PT-T200")
    context = browser.new_context(viewport={"width": width, "height": 640})
    context.set_default_timeout(10_000)
    page = context.new_page()
    pages = Pages(page, width)

    page.goto(f"{server.url}/intake/code/{code}")
    page.get_by_label("Your code").fill("WWWWW-MMMMM")  # the widest letters a code can have fit the box too
    pages.check("start")
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Start", exact=True).click()
    pages.check("intro")
    page.get_by_role("link", name="Start now").click()
    press(page, "Continue")  # nothing entered: the error summary and the field's error
    page.get_by_text("Help with this question").click()
    pages.check("question-error")

    kinds = {"fusion_date": "question-date", "fused_levels": "question-levels",
             "surgical_report_available": "question-yes-no", "pain_location": "question-choice",
             "pain_quality": "question-multi", "pain_score": "question-score"}
    plan = dict(PLAN, red_flag_saddle_numbness="Yes")
    for _ in range(40):
        if "/intake/warning/" in page.url:
            pages.check("red-flag")
            page.get_by_role("button", name="Continue with the questions").click()
            continue
        if "/intake/questions/" not in page.url:
            break
        qid = re.search(r"/intake/questions/([a-z_]+)", page.url).group(1)
        # Every question's own words are read (the longest question texts are the red-flag ones).
        pages.check(kinds.get(qid, f"question-{qid.replace('_', '-')}"))
        answer_current(page, plan)
    assert page.url.endswith("/intake/check")
    pages.check("check-answers")

    page.get_by_role("link", name=re.compile("^Change Can you get us a copy of an MRI")).click()
    choose(page, "No")
    press(page, "Continue")
    pages.check("check-answers-with-notice")

    # Another device saved meanwhile: the conflict page.
    page.goto(f"{server.url}/intake/questions/pain_score")
    page.evaluate("() => { document.querySelector('input[name=revision]').value = '999'; }")
    press(page, "Continue")
    assert page.locator("main h1").count() == 1
    pages.check("conflict")

    page.goto(f"{server.url}/intake/questions/pain_score")
    page.get_by_role("button", name="Save and come back later").click()
    pages.check("saved")
    page.goto(f"{server.url}/intake/check")
    page.get_by_role("button", name="Send answers").click()
    assert page.url.endswith("/intake/done")
    pages.check("confirmation")

    page.goto(f"{server.url}/intake/")
    page.get_by_role("button", name="Start a new questionnaire").click()
    pages.check("your-code")
    page.evaluate("() => { document.getElementById('idle-warning').hidden = false; }")
    pages.check("idle-warning", scope="#idle-warning")  # on top of the page: its own controls must be reachable
    page.evaluate("() => { document.getElementById('idle-warning').hidden = true; }")
    page.goto(f"{server.url}/intake/start")
    page.get_by_role("link", name="Start now").click()
    page.get_by_role("button", name="Save and come back later").click()
    page.get_by_role("button", name="Leave the questionnaire").click()
    pages.check("ended")
    page.goto(f"{server.url}/nowhere")
    pages.check("not-found")
    for _ in range(11):
        page.goto(f"{server.url}/intake/")
        page.get_by_label("Your code").fill("AAAAA-AAAAA")
        page.get_by_role("button", name="Start", exact=True).click()
    assert "Too many tries" in page.inner_text("main")
    pages.check("too-many-tries")
    context.close()

    assert len(pages.seen) >= 20
    assert pages.problems == {}
