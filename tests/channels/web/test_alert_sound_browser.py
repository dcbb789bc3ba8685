"""The alert sound in a real browser (Debian chromium through Playwright): a staff member's own
setting, off by default. Off: a new red flag plays nothing. On (set on the settings page): a new
alert raised in the store plays the tone once, and the next polls do not play it again. Before any
click on the page the browser will not start audio: the banner says so, and the first click lets it
play. The page's AudioContext is a stand-in (an init script) that counts the tones started, so the
test hears what the page would play. axe-core finds nothing; screenshots are kept."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest

from support.browser import watch_console
from support.web import add_staff, make_app
from support.web_browser import Server, axe_violations, require_browser, screenshot

pytest.importorskip("flask")

TONES_PER_SOUND = 2  # the sound is two short beeps

# A stand-in for the Web Audio API: counts the tones the page starts (window.__tones) and the alert
# polls answered (window.__polls). With window.__locked the context stays suspended, as a browser
# keeps it before the first click, until the test unlocks it.
STAND_IN = """
window.__tones = 0; window.__polls = 0; window.__locked = false;
class StandInContext {
  constructor() { this.state = window.__locked ? "suspended" : "running"; this.currentTime = 0; this.destination = {}; }
  resume() {
    if (window.__locked) { return new Promise(function () {}); }
    this.state = "running"; return Promise.resolve();
  }
  createOscillator() {
    return { type: "", frequency: { value: 0 }, connect() {}, start() { window.__tones += 1; }, stop() {} };
  }
  createGain() {
    return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect() {} };
  }
}
window.AudioContext = StandInContext;
const realFetch = window.fetch;
window.fetch = function (url, options) {
  const answer = realFetch.call(window, url, options);
  if (String(url).indexOf("alerts.json") >= 0) {
    answer.then(function (response) { return response.clone().json(); })
          .then(function () { setTimeout(function () { window.__polls += 1; }, 0); }, function () {});
  }
  return answer;
};
"""


# The browser's own Web Audio, with the tones it starts counted.
REAL_COUNT = """
window.__tones = 0;
const realStart = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function () { window.__tones += 1; return realStart.apply(this, arguments); };
"""


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def staff_page(browser, width=1024, stand_in=True):
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)  # test only: axe
    context.set_default_timeout(15_000)
    if stand_in:
        context.add_init_script(STAND_IN)
    return context.new_page()


def raise_alert(db, patient: str) -> None:
    """A coordinator's terminal draft with an emergency yes, never sent: the store raises its alert."""
    from triage.records.store import open_store

    with open_store(db) as store:
        store.save_draft({"patient_id": patient, "red_flag_saddle_numbness": "yes"}, user="nurse")


def wait_for_polls(page, more: int = 2) -> None:
    """Until ``more`` further polls have been answered and handled (the poll runs every 5 seconds)."""
    seen = page.evaluate("window.__polls")
    page.wait_for_function(f"window.__polls >= {seen + more}", timeout=30_000)


def turn_sound(page, server, choice: str) -> None:
    page.goto(f"{server.url}/staff/")
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("On" if choice == "on" else "Off", exact=True).check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/staff/settings\?saved="))
    assert page.locator("#settings-saved").inner_text() == f"Saved: the alert sound is {choice}."


def test_off_by_default_then_on_a_new_alert_plays_the_sound_once(browser, tmp_path):
    from playwright.sync_api import expect

    from test_web_staff_browser import sign_in

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    server = Server(make_app(db))
    try:
        page = staff_page(browser)
        problems = watch_console(page)
        missing = []  # resources that failed (the browser's own favicon.ico request aside)
        page.on("response", lambda r: missing.append(r.url) if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        sign_in(page, server, "clint")
        assert page.locator("body").get_attribute("data-alert-sound") is None  # off until turned on
        page.locator("main").click()  # a click: the browser would let audio start (not the reason for silence)
        raise_alert(db, "P-FIRST")
        page.wait_for_function("document.title.startsWith('(1 red flag) ')", timeout=30_000)
        assert page.evaluate("window.__tones") == 0  # off: the poll that found the alert played nothing

        turn_sound(page, server, "on")
        assert page.get_by_label("On", exact=True).is_checked()
        assert page.get_by_role("button", name="Play the sound").is_visible()
        assert axe_violations(page) == []
        screenshot(page, "staff-settings-sound-on")

        page.get_by_role("link", name="Worklist").click()
        assert page.locator("body").get_attribute("data-alert-sound") == "on"
        page.locator("main").click()
        wait_for_polls(page, 1)
        assert page.evaluate("window.__tones") == 0  # an alert already open when the page came: no sound
        raise_alert(db, "P-SECOND")
        page.wait_for_function(f"window.__tones >= {TONES_PER_SOUND}", timeout=30_000)
        wait_for_polls(page, 2)
        assert page.evaluate("window.__tones") == TONES_PER_SOUND  # once, not at every poll
        assert page.locator("#alert-sound-blocked").is_hidden()
        expect(page.locator("#worklist-rows")).to_contain_text("P-SECOND")  # its row came too, without a reload
        expect(page.locator("#table-caption")).to_have_text("2 intakes; urgent first")  # and the count above
        assert axe_violations(page) == []
        screenshot(page, "staff-worklist-sound-on")

        turn_sound(page, server, "off")
        page.get_by_role("link", name="Worklist").click()
        page.locator("main").click()
        raise_alert(db, "P-THIRD")
        page.wait_for_function("document.title.startsWith('(3 red flags) ')", timeout=30_000)
        assert page.evaluate("window.__tones") == 0  # a new page: counted from 0, and off again
        assert [p for p in problems if "Failed to load resource" not in p] == [] and missing == []
        page.context.close()
    finally:
        server.stop()


@contextmanager
def sound_on(tmp_path, name: str = "clint"):
    """A server whose clinician ``name`` has the sound on: (server, store path); stopped afterwards."""
    from triage.records.store import open_store

    db = tmp_path / "store" / "triage.db"
    add_staff(db, name, "clinician")
    server = Server(make_app(db))
    try:
        with open_store(db) as store:
            store.set_alert_sound(name, True)
        yield server, db
    finally:
        server.stop()


def test_before_any_click_the_banner_asks_for_one_and_the_first_click_lets_the_sound_play(browser, tmp_path):
    from test_web_staff_browser import sign_in

    with sound_on(tmp_path) as (server, db):
        page = staff_page(browser, width=320)
        sign_in(page, server, "clint")  # its last click opened this page: none on it yet
        page.evaluate("window.__locked = true")  # as a browser keeps audio before the page's first click
        raise_alert(db, "P-UNHEARD")
        blocked = page.locator("#alert-sound-blocked")
        blocked.wait_for(state="visible", timeout=30_000)
        assert page.evaluate("window.__tones") == 0  # never late: no tone queued for the next click
        assert axe_violations(page) == []
        screenshot(page, "staff-worklist-sound-blocked")
        page.evaluate("window.__locked = false")
        page.locator("main h1").click()  # the click the banner asks for
        assert blocked.is_hidden()
        raise_alert(db, "P-HEARD")
        page.wait_for_function(f"window.__tones >= {TONES_PER_SOUND}", timeout=30_000)
        wait_for_polls(page, 2)
        assert page.evaluate("window.__tones") == TONES_PER_SOUND
        page.context.close()


def test_two_staff_tabs_in_one_browser_play_one_sound_for_a_new_alert(browser, tmp_path):
    from test_web_staff_browser import sign_in

    with sound_on(tmp_path) as (server, db):
        first = staff_page(browser)
        sign_in(first, server, "clint")
        second = first.context.new_page()  # a second tab: the same browser, session and storage
        second.goto(f"{server.url}/staff/")
        tabs = (first, second)
        for tab in tabs:
            tab.locator("main h1").click()  # each tab may play (a click on it)
            wait_for_polls(tab, 1)
        for number, patient in enumerate(("P-ONE", "P-TWO"), start=1):
            raise_alert(db, patient)
            for tab in tabs:  # both have found it (the title counts it) and handled two polls since
                tab.wait_for_function(f"document.title.startsWith('({number} red flag')", timeout=30_000)
                wait_for_polls(tab, 2)
            assert sum(tab.evaluate("window.__tones") for tab in tabs) == number * TONES_PER_SOUND  # one sound each
        first.context.close()


def test_the_settings_page_without_javascript_saves_the_choice(browser, tmp_path):
    from test_web_staff_browser import sign_in
    from triage.records.store import open_store

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "cora", "coordinator")
    server = Server(make_app(db))
    try:
        context = browser.new_context(viewport={"width": 320, "height": 800}, java_script_enabled=False,
                                      bypass_csp=True)
        page = context.new_page()
        sign_in(page, server, "cora")
        page.goto(f"{server.url}/staff/settings")
        assert page.get_by_label("Off", exact=True).is_checked()  # off by default
        assert page.get_by_role("button", name="Play the sound").count() == 0  # no sound without the script
        page.get_by_label("On", exact=True).check()
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(re.compile(r"/staff/settings\?saved=on"))
        with open_store(db) as store:
            assert store.get_user("cora").alert_sound is True
        screenshot(page, "staff-settings-no-script")
        context.close()
    finally:
        server.stop()


def test_play_the_sound_with_the_browsers_own_web_audio(browser, tmp_path):
    """No stand-in: the real AudioContext of chromium, started by the button's click, with no error."""
    from test_web_staff_browser import sign_in

    db = tmp_path / "store" / "triage.db"
    add_staff(db, "clint", "clinician")
    server = Server(make_app(db))
    try:
        page = staff_page(browser, stand_in=False)
        page.context.add_init_script(REAL_COUNT)
        problems = watch_console(page)
        sign_in(page, server, "clint")
        page.goto(f"{server.url}/staff/settings")
        page.get_by_role("button", name="Play the sound").click()
        page.wait_for_function(f"window.__tones >= {TONES_PER_SOUND}")
        assert page.evaluate("window.__tones") == TONES_PER_SOUND
        assert [p for p in problems if "Failed to load resource" not in p] == []  # (favicon.ico: 404)
        page.context.close()
    finally:
        server.stop()
