"""For the web pages' tests in a real browser (the session's one Debian chromium from
support/browser.py, driven by Playwright): axe-core injected from node_modules, screenshots kept under
test-artefacts/, and the app served by waitress on 127.0.0.1 on a free port in a thread of the test
process.

Without chromium, Playwright or axe-core the browser tests skip on a developer machine and FAIL
when CI is "true" (CI must install them: see .ci/run)."""

from __future__ import annotations

import os
import shutil
import threading
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
    """waitress serving ``app`` on 127.0.0.1:<free port> until ``stop``."""

    def __init__(self, app):
        from waitress.server import create_server

        self._server = create_server(app, host="127.0.0.1", port=0, threads=4, clear_untrusted_proxy_headers=True)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="waitress-test", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=10)


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
