"""Shared helpers for tests in a real browser (Debian chromium driven by Playwright for Python).

Use in a test module:

    from support.browser import browser, serve, watch_console  # noqa: F401  (browser is a fixture)

    def test_page(browser):
        with serve({"/": some_folder}) as base:
            page = browser.new_page()
            problems = watch_console(page)
            page.goto(base + "/index.html")
            ...
            assert problems == []

Without chromium or Playwright the tests skip on a developer machine, and fail when the environment
variable CI is "true" (CI installs both: `.ci/run`). Pages are served on 127.0.0.1 on a free port,
and the browser starts with its background networking off (this machine has no outside network;
nothing may leave it anyway).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium") or None


def missing(what: str) -> None:
    """Skip on a developer machine; fail under CI, where the tool must have been installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing, and CI must have it (see .ci/run)", pytrace=False)
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium for the whole test session."""
    path = chromium_path()
    if path is None:
        missing("chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright for Python (pip install '.[test]')")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    routes: dict[str, Path] = {}

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix in sorted(self.routes, key=len, reverse=True):
            folder = prefix.rstrip("/") + "/"
            if path.startswith(folder) or path == prefix:
                relative = path[len(prefix):].lstrip("/")
                root = self.routes[prefix].resolve()
                target = (root / relative).resolve()
                return str(target) if target.is_relative_to(root) else str(root / "missing")
        return "/nonexistent"

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serve(routes: dict[str, Path]) -> Iterator[str]:
    """Serve folders (URL prefix -> folder) on 127.0.0.1, a free port; yields the base URL."""
    handler = type("Handler", (_Handler,), {"routes": dict(routes)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def watch_console(page) -> list[str]:
    """Errors and warnings the page writes to its console, and uncaught exceptions (filled as they
    happen)."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems
