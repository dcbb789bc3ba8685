"""Records on the staff pages in a real browser (Debian chromium through Playwright): a coordinator
requests the operative report, marks the MRI received with the short answers form (with the keyboard),
sees a problem come back with what was typed, and the summary list the requests; then marks the
operative report received with a scan of it attached (a file that is not a PDF refused first, what was
typed kept), and the summary lists the file as added by them; axe-core finds nothing on each page;
screenshots at 320 and 1024 px are kept under test-artefacts/."""

from __future__ import annotations

import pytest

from conftest import ROOT, run_cli
from support.web import add_staff, make_app
from support.web_browser import Server, answer_second_factor, axe_violations, require_browser, screenshot
from support.web import PASSWORD
from support import hostile_files as files

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def check(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    screenshot(page, name)


def test_request_and_receive_records_in_a_browser(browser, tmp_path):
    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    run = run_cli("assess", str(ROOT / "examples" / "records-missing.json"), "--save", "--db", str(db), "-f", "json")
    assert run.code == 0, run.err
    server = Server(make_app(db))
    try:
        context = browser.new_context(viewport={"width": 1024, "height": 800}, bypass_csp=True)  # test only: axe
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{server.url}/staff/")
        page.get_by_label("User name").fill("cora")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        answer_second_factor(page, server.app, "cora")

        page.goto(f"{server.url}/staff/intakes/1")
        page.get_by_role("link", name="Operative report: request, receive or mark not obtainable").click()
        page.wait_for_url("**/records/surgical_report")
        check(page, "staff-records-item")
        page.get_by_label("From whom").fill("Dr Lee's office")
        page.get_by_label("How").select_option("fax")
        with page.expect_navigation():
            page.get_by_role("button", name="Record the request").click()
        assert page.locator("#record-actions").is_visible()
        assert page.get_by_text("Operative report: requested").is_visible()

        page.get_by_role("link", name="MRI report: request, receive or mark not obtainable").click()
        page.wait_for_url("**/records/current_mri")
        page.get_by_label("Date of the MRI (YYYY-MM-DD or YYYY-MM)").fill("2026-13")
        page.get_by_label("Levels where the report names an annular tear (none: leave empty)").fill("L3-L4")
        with page.expect_navigation():
            page.get_by_role("button", name="Mark received and triage again").click()
        assert page.get_by_role("heading", name="There is a problem").is_visible()
        assert page.get_by_label("Levels where the report names an annular tear (none: leave empty)").input_value() == "L3-L4"
        check(page, "staff-records-error")
        page.get_by_label("Date of the MRI (YYYY-MM-DD or YYYY-MM)").fill("2026-11-20")
        page.get_by_label("Date of the MRI (YYYY-MM-DD or YYYY-MM)").press("Enter")  # the keyboard submits
        page.wait_for_url("**/staff/intakes/1")
        assert page.get_by_text("MRI report: received").is_visible()
        check(page, "staff-records-summary")
        page.locator("summary", has_text="Version 2 of 2").click()
        assert page.get_by_text("from the record: ").first.is_visible()
        screenshot(page, "staff-records-summary-versions")

        # The operative report arrives as a scan: attached to the receive form.
        scan, wrong = tmp_path / "operative report.pdf", tmp_path / "op-notes.pdf"
        scan.write_bytes(files.pdf(2))
        wrong.write_bytes(files.zip_archive())  # named .pdf, a ZIP by its content
        page.get_by_role("link", name="Operative report: request, receive or mark not obtainable").click()
        page.wait_for_url("**/records/surgical_report")
        levels = page.get_by_label("Fused levels named in the operative report (e.g. L4-L5, L5-S1)")
        levels.fill("L4-L5")
        copies = page.get_by_label("Copies of the operative report (optional)")
        assert "Each file up to 10 MB, a PDF up to 50 pages" in page.locator("#file-hint").inner_text()
        copies.set_input_files([str(scan), str(wrong)])
        with page.expect_navigation():
            page.get_by_role("button", name="Mark received and triage again").click()
        assert page.get_by_role("heading", name="There is a problem").is_visible()
        assert page.get_by_role("link", name="op-notes.pdf is not a PDF, JPEG or PNG file by its content").is_visible()
        assert page.get_by_text("choose the files again").is_visible()
        assert levels.input_value() == "L4-L5"  # what was typed is kept; the files are chosen again
        check(page, "staff-records-file-refused")
        copies.set_input_files(str(scan))
        with page.expect_navigation():
            page.get_by_role("button", name="Mark received and triage again").click()
        page.wait_for_url("**/staff/intakes/1")
        files_list = page.locator("#record-files")
        assert page.get_by_role("heading", name="Files of the records").is_visible()
        assert "operative report.pdf" in files_list.inner_text() and "added by cora" in files_list.inner_text()
        check(page, "staff-records-file-summary")
        context.close()
    finally:
        server.stop()
