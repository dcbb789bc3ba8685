"""The Origin check in a real browser (Debian chromium through Playwright). The pages' Referrer-Policy
is same-origin, so chromium sends the page's real Origin on our own form posts (with no-referrer it
sent "Origin: null", which the check had to let through: the check did nothing in a browser). A page
on another origin (here another port of 127.0.0.1: the same site, so the SameSite cookie goes with
it) that posts a staff form, even with a leaked CSRF token, is refused: whether it names its origin
or hides it as "null" with its own no-referrer policy. Patient pages at a kiosk still work, and their
posts carry the real origin."""

from __future__ import annotations

import re

import pytest

from support.browser import serve
from support.web import add_staff, make_app
from support.web_browser import Server, require_browser

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def posts_of(page) -> list[tuple[str, str | None, int]]:
    posts: list[tuple[str, str | None, int]] = []
    page.on("response", lambda r: posts.append((r.url, r.request.header_value("origin"), r.status))
            if r.request.method == "POST" else None)
    return posts


FORGED = """<!doctype html><html lang="en"><head><meta charset="utf-8">{meta}<title>Win a prize</title></head>
<body><form method="post" action="{target}/staff/settings" id="f">
<input type="hidden" name="csrf_token" value="{token}"><input type="hidden" name="alert_sound" value="on">
<button type="submit">Claim</button></form></body></html>"""


@pytest.mark.parametrize("hide_origin", [False, True], ids=["names-its-origin", "sends-null"])
def test_a_staff_form_posted_from_another_origin_is_refused_even_with_the_token(browser, tmp_path, hide_origin):
    from test_web_staff_browser import sign_in
    from triage.records.store import open_store

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    server = Server(make_app(db))
    try:
        context = browser.new_context(viewport={"width": 1024, "height": 800})
        context.set_default_timeout(15_000)
        page = context.new_page()
        posts = posts_of(page)
        sign_in(page, server, "clint")
        assert {origin for _, origin, _ in posts} == {server.url}  # our own posts: the real origin, never null
        token = page.locator("form[action$='/staff/sign-out'] input[name=csrf_token]").input_value()
        site = tmp_path / "elsewhere"
        site.mkdir()
        meta = '<meta name="referrer" content="no-referrer">' if hide_origin else ""
        (site / "index.html").write_text(FORGED.format(meta=meta, target=server.url, token=token))
        with serve({"/": site}) as elsewhere:
            assert elsewhere != server.url
            page.goto(f"{elsewhere}/index.html")
            with page.expect_response(lambda r: r.url.endswith("/staff/settings")) as answer:
                page.get_by_role("button", name="Claim").click()
            response = answer.value
            assert response.request.header_value("origin") == ("null" if hide_origin else elsewhere)
            assert response.status == 400
        with open_store(db) as store:
            assert store.get_user("clint").alert_sound is False  # refused before the page acted
        # The same form from the staff page itself goes through (the same session and token).
        page.goto(f"{server.url}/staff/settings")
        with page.expect_response(lambda r: r.url.endswith("/staff/settings") and r.request.method == "POST") as answer:
            page.get_by_label("On", exact=True).check()
            page.get_by_role("button", name="Save").click()
        assert answer.value.status == 303 and answer.value.request.header_value("origin") == server.url
        context.close()
    finally:
        server.stop()


def test_a_kiosk_patients_pages_work_and_post_the_real_origin(browser, tmp_path):
    db = tmp_path / "store" / "triage.db"
    server = Server(make_app(db, kiosk=True))
    try:
        context = browser.new_context(viewport={"width": 800, "height": 1000})
        context.set_default_timeout(15_000)
        page = context.new_page()
        posts = posts_of(page)
        page.goto(f"{server.url}/intake/")
        page.get_by_role("button", name="Start a new questionnaire").click()
        page.wait_for_url(re.compile(r"/intake/your-code$"))
        page.get_by_role("link", name="Continue").click()
        page.get_by_role("link", name="Start now").click()
        for _ in range(3):
            assert "/intake/questions/" in page.url
            page.get_by_label("I don't know", exact=True).first.check()
            page.get_by_role("button", name="Continue", exact=True).click()
        assert "/intake/questions/" in page.url
        assert len(posts) >= 4
        assert all(status in (200, 302, 303) for _, _, status in posts), posts
        assert {origin for _, origin, _ in posts} == {server.url}
        response = page.request.get(f"{server.url}/intake/")
        assert response.headers["referrer-policy"] == "same-origin"
        context.close()
    finally:
        server.stop()
