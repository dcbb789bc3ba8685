"""The web's small words and boxes in a real browser (issue 29 item 5): the idle warning never covers
a control (1024x768, the size of the clinic's tablets, and a phone), and the date boxes sit on one line
with the whole date outlined when the date is missing. Screenshots: test-artefacts/screenshots/small-*.png."""

from __future__ import annotations

import pytest

from support.web import Clock
from support.web_browser import axe_violations, require_browser, screenshot, serving

pytest.importorskip("flask")

WARN_AT_MS = (15 * 60 - 120) * 1000 + 500  # the default 15 minutes, warned 2 minutes before

# Every control on the page, with where it is, and the idle warning's box.
CONTROLS = """() => {
    const warning = document.getElementById('idle-warning').getBoundingClientRect();
    const controls = Array.from(document.querySelectorAll('a[href], button, input:not([type=hidden]), label, summary'))
        .filter(e => !e.closest('#idle-warning') && !e.closest('#idle-cover') && e.getClientRects().length)
        .map(e => { const r = e.getBoundingClientRect();
                    return {text: (e.textContent || e.name || e.id).trim().slice(0, 30), top: r.top, bottom: r.bottom,
                            left: r.left, right: r.right}; });
    return {warning: {top: warning.top, bottom: warning.bottom, left: warning.left, right: warning.right},
            height: window.innerHeight, controls: controls};
}"""


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def invite_with(db, answers: dict | None = None) -> str:
    from triage.records import invites
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(db) as store:
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator", answers=answers)
    return code


def covered(layout: dict) -> list[str]:
    """Controls that the warning covers, in part or whole."""
    w = layout["warning"]
    return [c["text"] for c in layout["controls"]
            if c["bottom"] > w["top"] and c["top"] < w["bottom"] and c["right"] > w["left"] and c["left"] < w["right"]]


@pytest.mark.parametrize("width, height, path", [
    (1024, 768, "/intake/questions/fusion_date"),
    (1024, 768, "/intake/questions/pain_quality"),
    (1024, 768, "/intake/check"),
    (320, 640, "/intake/questions/fusion_date"),
])
def test_the_idle_warning_never_covers_a_control(browser, tmp_path, width, height, path):
    with serving(tmp_path, clock=Clock()) as (server, db):
        context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
        page = context.new_page()
        page.clock.install()
        page.goto(f"{server.url}/intake/code/{invite_with(db, {'fusion_date': '2024-03', 'fused_levels': ['L4-L5']})}")
        page.get_by_role("button", name="Start", exact=True).click()
        page.goto(server.url + path)
        page.clock.fast_forward(WARN_AT_MS)
        warning = page.locator("#idle-warning")
        warning.wait_for(state="visible")
        layout = page.evaluate(CONTROLS)
        assert covered(layout) == [], layout
        stay = page.get_by_role("button", name="Stay on this page").bounding_box()
        assert 0 <= stay["y"] and stay["y"] + stay["height"] <= height  # and the warning's own button is in view
        assert page.evaluate("() => document.activeElement.textContent.trim()") == "Stay on this page"
        assert axe_violations(page) == []
        name = path.rsplit("/", 1)[-1]
        screenshot(page, f"small-idle-warning-{name}", widths=(width,))
        context.close()


@pytest.mark.parametrize("width", (320, 1024))
def test_the_date_boxes_sit_on_one_line_and_a_missing_date_outlines_all_three(browser, tmp_path, width):
    with serving(tmp_path, clock=Clock()) as (server, db):
        context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{server.url}/intake/code/{invite_with(db)}")
        page.get_by_role("button", name="Start", exact=True).click()
        page.goto(f"{server.url}/intake/questions/fusion_date")
        page.get_by_role("button", name="Continue", exact=True).click()
        boxes = [page.locator(f"#fusion_date-{part}") for part in ("day", "month", "year")]
        tops = [round(box.bounding_box()["y"]) for box in boxes]
        # One line (at 320 px the year may go to the next line, flush left): the Day box never sits
        # lower than the Month box for its longer label.
        assert tops[0] == tops[1] and (tops[2] == tops[1] or width < 400), tops
        outlines = {box.evaluate("e => getComputedStyle(e).borderTopColor") for box in boxes}
        assert outlines == {"rgb(212, 53, 28)"}  # every box of the missing date is outlined in red
        assert axe_violations(page) == []
        screenshot(page, "small-date-error", widths=(width,))
        context.close()
