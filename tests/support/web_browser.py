"""For the web pages' tests in a real browser (the session's one Debian chromium from
support/browser.py, driven by Playwright): axe-core injected from node_modules, screenshots kept under
test-artefacts/, and the app served by waitress on 127.0.0.1 on a free port in a thread of the test
process.

Without chromium, Playwright or axe-core the browser tests skip on a developer machine and FAIL
when CI is "true" (CI must install them: see .ci/run)."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support import ROOT
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = ROOT / "test-artefacts" / "screenshots"
CHROMIUM = os.environ.get("TRIAGE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def require_browser():
    """Skip (developer machine) or fail (CI) when a tool the browser tests need is missing."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Playwright Python package (pip install playwright)")
    if not Path(CHROMIUM).exists():
        missing.append("chromium (apt-get install chromium)")
    if not AXE.exists():
        missing.append("axe-core (npm ci)")
    if missing:
        message = "browser tests need " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


class Server:
    """waitress serving ``app`` on 127.0.0.1:<free port> until ``stop``, with the options `triage serve`
    gives it. (The installed `triage serve` process itself is driven in Chromium by
    test_installed_browser, test_web_app_role, test_deploy and test_fleet; the other browser tests
    serve the installed package's app here, where the date is fixed and the clock can be moved.)"""

    def __init__(self, app):
        from waitress.server import create_server

        from triage.channels.web.__main__ import server_options

        self.app = app
        self._server = create_server(app, host="127.0.0.1", port=0, threads=4, **server_options(app))
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="waitress-test", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop without touching a closed file descriptor. Closing the server from this thread (as once
        done) left waitress's worker threads free to wake the loop afterwards by writing b"x" to its
        trigger pipe, whose descriptor number a later test could own by then: once a multiprocessing
        queue, whose reader took the "x" as a message length and waited for ever. So: the workers
        finish first; then the loop thread itself closes the listener, the trigger and every
        connection, and ends (its map is empty); then it is joined."""
        server = self._server
        server.task_dispatcher.shutdown()

        def close_everything() -> None:
            for dispatcher in list(server._map.values()):
                dispatcher.close()

        server.trigger.pull_trigger(close_everything)
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "the test server's loop did not end"


def answer_second_factor(page, app, name: str, check=None) -> None:
    """The second-factor step after the password, in the browser, as a member with an authenticator
    app: at a first sign-in, set up from the key on the page (then on past the recovery codes);
    later, the code of now. ``app``: the app served in this process (None: a server process, where
    only a first sign-in's set-up can be answered, from the page and the real clock).
    ``check(page, name)``, if given, runs on each of these pages."""
    import time

    from support.web import totp_now
    from triage.records import accounts

    page.wait_for_load_state()
    label = "Code from your authenticator app"
    if page.url.split("?")[0].endswith("/staff/second-factor/setup"):
        check and check(page, "staff-second-factor-setup")
        secret = page.locator("#secret").get_attribute("data-secret")
        code = totp_now(app, name, secret) if app else accounts.totp_code(secret, accounts.totp_step(time.time()))
        page.get_by_label(label).fill(code)
        page.get_by_role("button", name="Continue").click()
        check and check(page, "staff-recovery-codes")
        page.get_by_role("link", name="Continue").click()
    elif page.url.split("?")[0].endswith("/staff/second-factor"):
        check and check(page, "staff-second-factor")
        page.get_by_label(label).fill(totp_now(app, name))
        page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()


@contextmanager
def serving(tmp_path: Path, **options) -> Iterator[tuple[Server, Path]]:
    """The app (``make_app`` with ``options``) on a real server for one test, with a fresh store:
    (server, store path); stopped afterwards."""
    from support.web import make_app

    db = tmp_path / "store" / "triage.db"
    server = Server(make_app(db, **options))
    try:
        yield server, db
    finally:
        server.stop()


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now (WCAG 2.0/2.1/2.2 A and AA, and best practice)."""
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                             nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")


def screenshot(page, name: str, widths=(320, 1024)) -> list[Path]:
    """Full-page screenshots at each width (kept under test-artefacts/ for people to look at); the
    viewport is put back afterwards. Also checks the page never scrolls sideways at that width."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    # A click's navigation may still be committing when the caller's next line runs: measure the
    # page that arrived, not the gap between two documents (documentElement is null there).
    page.wait_for_load_state("load")
    original = page.viewport_size
    paths = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            wide = page.evaluate("""(limit) => Array.from(document.querySelectorAll('body *'))
                .filter(e => e.getBoundingClientRect().right > limit + 1 && !e.closest('.table-wrap *'))
                .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""", width)
            raise AssertionError(f"{name}: scrolls sideways by {overflow}px at {width}px: {wide}")
        path = ARTEFACTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(original)
    return paths



# The patient's questionnaire in the browser, as its tests drive it (a module takes the ``served``
# fixture by name: ``from support.web_browser import served  # noqa: F401 (fixture)``).

@pytest.fixture
def served(tmp_path):
    """The app as a clinic's kiosk runs it (``kiosk=True``) on a real server with a fresh store, for one
    test: (server, store path)."""
    with serving(tmp_path, kiosk=True) as both:
        yield both


def new_page(browser, *, width=320, javascript=True):
    """A page in a context of its own (its own cookies), ``width`` px wide (a phone unless told)."""
    context = browser.new_context(viewport={"width": width, "height": 640}, java_script_enabled=javascript,
                                  bypass_csp=True)  # test only: lets axe-core be injected; the app keeps its CSP
    context.set_default_timeout(10_000)
    return context.new_page()


def check(page, name: str, seen: set[str] | None = None, *, language: str | None = None) -> None:
    """axe-core finds nothing, and screenshots are kept (once per kind of page when ``seen`` collects the
    names). With ``language``: the page is in that language first, and the screenshots' names start with it."""
    if language is not None:
        assert page.get_attribute("html", "lang") == language, name
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    if seen is None or name not in seen:
        screenshot(page, f"{language}-{name}" if language else name)
        if seen is not None:
            seen.add(name)


def choose(page, text: str) -> None:
    page.get_by_label(text, exact=True).check()


def press(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def question_id(page) -> str | None:
    """The id of the question on screen (from the URL); None on any other page."""
    match = re.search(r"/intake/questions/([a-z_]+)", page.url)
    return match.group(1) if match else None


def answer_current(page, plan: dict[str, object], *, continue_button: str = "Continue") -> str:
    """Answer the question on screen from ``plan`` (by question id: a dict of field label to typed text, a
    list of labels to tick, or one label to choose; "No" for a question not in the plan), then press
    ``continue_button``; returns the question's id."""
    qid = question_id(page)
    assert qid is not None, f"not a question page: {page.url}"
    value = plan.get(qid, "No")
    if isinstance(value, dict):
        for label, typed in value.items():
            page.get_by_label(label, exact=True).fill(typed)
    elif isinstance(value, list):
        for label in value:
            choose(page, label)
    else:
        choose(page, value)
    press(page, continue_button)
    return qid

class LargerText:
    """Text at ``percent`` of the browser's default size, as a person sets it in the browser's settings
    (chromium's default font sizes, through the DevTools protocol): pages in rem/em follow it. Create
    before page.goto. Chromium drops the setting when Playwright takes a full-page screenshot of a
    page taller than the window (and shoots it at the default size): ``screenshot`` makes the window
    as tall as the page instead, and checks the text size held."""

    def __init__(self, page, percent: int = 200):
        self.page, self.percent = page, percent
        self.session = page.context.new_cdp_session(page)  # kept: the setting lasts as long as its session
        self.apply()

    def apply(self) -> None:
        self.session.send("Page.setFontSizes", {"fontSizes": {"standard": 16 * self.percent // 100,
                                                              "fixed": 13 * self.percent // 100}})

    def root_size(self) -> str:
        return self.page.evaluate("() => getComputedStyle(document.documentElement).fontSize")

    def screenshot(self, path: Path) -> None:
        window = self.page.viewport_size
        height = self.page.evaluate("() => document.documentElement.scrollHeight")
        self.page.set_viewport_size({"width": window["width"], "height": max(height, window["height"])})
        size = self.root_size()
        self.page.screenshot(path=str(path))
        self.page.set_viewport_size(window)
        assert size == f"{16 * self.percent // 100}px", f"{path.name}: text at {size}"


LAYOUT_PROBLEMS = """(scope) => {
  const width = document.documentElement.clientWidth, problems = [];
  const root = scope ? document.querySelector(scope) : document.body;
  const skip = e => e.closest('.visually-hidden, [hidden], .table-wrap') || e.classList.contains('skip-link')
    || getComputedStyle(e).visibility !== 'visible';  // not shown to anyone (the idle cover before its time)
  const overflow = document.documentElement.scrollWidth - width;
  if (overflow > 0) problems.push('the page scrolls sideways by ' + overflow + 'px');
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
    + ' "' + (e.textContent || e.value || '').trim().replace(/\\s+/g, ' ').slice(0, 30) + '"';
  for (const e of root.querySelectorAll('*')) {
    if (skip(e)) continue;
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    if (box.width > 0 && (box.left < -0.5 || box.right > width + 0.5)) problems.push('outside the window: ' + name(e));
    const clipsX = style.overflowX !== 'visible', clipsY = style.overflowY !== 'visible';
    const scrolls = ['auto', 'scroll'].includes(style.overflowY) && e !== document.body && e !== document.documentElement;
    if ((clipsX && e.scrollWidth > e.clientWidth + 1) || (clipsY && !scrolls && e.scrollHeight > e.clientHeight + 1))
      problems.push('content cut off: ' + name(e));
  }
  const controls = Array.from(root.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary'))
    .filter(e => !skip(e) && e.getClientRects().length);
  const labelled = e => e.labels ? Array.from(e.labels) : [];
  const boxes = controls.map(e => [e, e.getBoundingClientRect()]);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, q] = boxes[j];
    if (a.contains(b) || b.contains(a)) continue;
    const x = Math.min(r.right, q.right) - Math.max(r.left, q.left), y = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
    if (x > 1 && y > 1) problems.push('controls overlap: ' + name(a) + ' and ' + name(b));
  }
  for (const e of controls) {
    e.scrollIntoView({block: 'center', inline: 'nearest'});
    const part = e.getClientRects()[0];
    const x = part.left + Math.min(part.width / 2, 10), y = part.top + part.height / 2;
    const hit = document.elementFromPoint(x, y);
    const ok = hit && (hit === e || e.contains(hit) || labelled(e).some(l => l === hit || l.contains(hit)));
    if (!ok) problems.push('cannot be reached (covered or off screen): ' + name(e) + (hit ? ' is under ' + name(hit) : ''));
  }
  window.scrollTo(0, 0);
  return problems;
}"""


def layout_problems(page, scope: str | None = None) -> list[str]:
    """What keeps a person from reading or using the page as laid out now: sideways scrolling, anything
    outside the window, content cut off by a box, controls on top of each other, a control that cannot
    be scrolled to and pressed (covered by another element). ``scope``: a CSS selector to check only
    that part (e.g. a dialog on top of the page)."""
    return page.evaluate(LAYOUT_PROBLEMS, scope)
