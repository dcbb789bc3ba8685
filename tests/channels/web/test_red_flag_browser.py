"""A new red flag draws a clinician's eye on the worklist in a real browser (Debian chromium through
Playwright): the row of an intake whose red flag was just saved (a terminal draft: any channel) appears
at the top without a reload, and the title carries the open-alert count. axe-core finds nothing."""

from __future__ import annotations

import re

import pytest

from support.web import add_staff, make_app
from support.web_browser import Server, axe_violations, require_browser, screenshot

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def test_a_new_alerts_row_appears_in_the_worklist_without_reload(browser, tmp_path):
    from playwright.sync_api import expect

    from test_web_staff_browser import new_page, sign_in
    from triage.records.store import open_store

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    with open_store(db) as store:
        store.save_draft({"patient_id": "CALM", "pain_score": 2}, user="nurse")
    server = Server(make_app(db))
    try:
        page = new_page(browser)
        sign_in(page, server, "clint")
        assert re.match(r"Worklist - ", page.title())  # no open alert: no count
        navigations = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        with open_store(db) as store:  # a coordinator's terminal draft with an emergency yes, never sent
            flagged = store.save_draft({"patient_id": "P-RED", "red_flag_saddle_numbness": "yes"}, user="nurse")
        first = page.locator("#worklist-rows tr").first
        expect(first).to_contain_text("P-RED", timeout=20_000)  # the next poll (5 s) brings the row
        expect(first).to_contain_text("urgent EMERGENCY")
        expect(first).to_contain_text("not sent yet")
        expect(page).to_have_title(re.compile(r"^\(1 red flag\) Worklist - "))
        assert page.locator("#worklist-rows tr").nth(1).inner_text().count("CALM") == 1
        assert navigations == []  # no reload
        assert f'/staff/intakes/{flagged.intake_id}"' in page.content()
        assert axe_violations(page) == []
        screenshot(page, "staff-worklist-new-alert")
    finally:
        server.stop()
