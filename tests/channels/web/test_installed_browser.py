"""The installed `triage serve`, as a clinic starts it (from a folder of its own, nothing of the checkout
importable), driven in Debian's chromium: a patient opens an invitation and answers, a coordinator signs
in and finds the patient on the worklist. The other browser tests serve the app from inside the test
process (with a fixed clock); this one runs the real process and its real templates and static files."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request

import pytest

from support.cli import TRIAGE, installed_env
from support.web import PASSWORD
from support.web_browser import answer_second_factor, require_browser, screenshot

pytest.importorskip("flask")


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def triage(folder, env, *args, stdin: str | None = None) -> str:
    done = subprocess.run([*TRIAGE, *args], cwd=folder, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_installed_server_serves_patient_and_staff_pages(browser, tmp_path):
    folder = tmp_path / "service"
    folder.mkdir()
    env = installed_env(TRIAGE_DB=str(folder / "triage.db"))
    env.pop("TRIAGE_SETTINGS", None)
    triage(folder, env, "users", "add", "cora", "--role", "coordinator", "--password-stdin", stdin=PASSWORD + "\n")
    code = re.search(r"code: (\S+)", triage(folder, env, "invite", "--patient-id", "P-INSTALLED")).group(1)
    server = subprocess.Popen([*TRIAGE, "serve", "--port", "0"], cwd=folder, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        base = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", server.stderr.readline()).group(1)
        deadline = time.monotonic() + 60
        while True:  # the socket listens before the web layer has taken over
            try:
                urllib.request.urlopen(base + "/healthz", timeout=30).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.2)

        patient = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
        patient.set_default_timeout(15_000)
        patient.goto(f"{base}/intake/code/{code}")
        patient.get_by_role("button", name="Start", exact=True).click()
        with patient.expect_navigation():  # wait for the question page itself, not the click
            patient.get_by_role("link", name="Start now").click()
        first = patient.url
        assert "/intake/questions/" in first
        assert patient.evaluate("getComputedStyle(document.body).fontFamily") != ""  # style.css was served
        patient.get_by_label("I don't know", exact=True).check()
        with patient.expect_navigation():
            patient.get_by_role("button", name="Continue", exact=True).click()
        assert patient.url != first and "/intake/questions/" in patient.url
        screenshot(patient, "installed-patient-second-question")

        staff = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
        staff.set_default_timeout(15_000)
        staff.goto(f"{base}/staff/")
        staff.get_by_label("User name").fill("cora")
        staff.get_by_label("Password", exact=True).fill(PASSWORD)
        staff.get_by_role("button", name="Sign in").click()
        answer_second_factor(staff, None, "cora")  # set up at this first sign-in
        assert "P-INSTALLED" in staff.inner_text("main")
        screenshot(staff, "installed-staff-worklist")
    finally:
        server.send_signal(signal.SIGINT)
        _, log = server.communicate(timeout=60)
    assert " 500 " not in log and "Traceback" not in log, log
