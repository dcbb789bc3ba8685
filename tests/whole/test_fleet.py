"""A clinic network with real parts: PostgreSQL, three installed `triage serve` processes on one store
and HAProxy in front of them, round robin without stickiness (tests/support/fleet.py). Debian's
chromium completes a patient intake and a staff session through the balancer while one process is
killed (SIGKILL) and PostgreSQL is stopped and started again; nothing acknowledged is lost, no answer
is a 500, the wrong-code limit counts across processes, and a CDS Hooks token is accepted once by the
whole fleet.

Consecutive requests of one browser land on different processes, so every page of the walk below
reads its session, its CSRF token and the patient's draft from the store, never from a process."""

from __future__ import annotations

import json
import re

import pytest

from support.cds_hooks_support import BASE_URL, DISCOVERY_URL, ISSUER, FakeEhr
from support.fleet import HAPROXY, start_fleet, status, wait_until
from support.web import PASSWORD
from support.web_browser import answer_second_factor, require_browser, screenshot

pytest.importorskip("flask")

# Everything but the warning-sign questions is known from the invitation (as a coordinator fills in
# from the referral), so the patient answers those in the browser: one yes (an emergency-tier sign:
# an alert) and the rest no.
KNOWN = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
         "mri_available": "no", "pain_location": "back", "pain_quality": ["aching"],
         "pain_pattern_since_surgery": "never_improved", "pain_score": 6, "hardware_problem_known": "no",
         "mechanical_symptoms": "no"}
YES = "red_flag_saddle_numbness"
RECOVERY_SECONDS = 20  # "within seconds": a pool's check finds the new server at the next request
SPOOFED_CLIENT = "203.0.113.9"  # the guesser's address, as the balancer forwards it (X-Forwarded-For)


@pytest.fixture(autouse=True)
def _tools():
    require_browser()
    import os

    if not os.access(HAPROXY, os.X_OK):
        from support.browser import missing

        missing("haproxy (apt-get install haproxy)")


@pytest.fixture
def ehr():
    return FakeEhr("ES384")


@pytest.fixture
def fleet(tmp_path, ehr):
    jwks = tmp_path / "ehr-jwks.json"
    jwks.write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    config = tmp_path / "cds-hooks.toml"
    config.write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}"\n[[cds_hooks.clients]]\nissuer = "{ISSUER}"\n'
                      f'jwks = "{jwks}"\n', encoding="utf-8")
    running = start_fleet(3, extra_env={"TRIAGE_CDS_HOOKS": str(config)})
    try:
        yield running
    finally:
        running.stop()
        running.remove()


def _invite(fleet) -> tuple[str, int]:
    from triage.records import invites
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(fleet.db) as store:
        draft = store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="cora",
                                    answers={"patient_id": "P-FLEET", **KNOWN})
    return code, draft.intake_id


def _answer_one(page) -> str:
    """Answer the question on the page (yes to YES, no to the rest); returns its id."""
    qid = re.search(r"/intake/questions/([a-z_]+)", page.url).group(1)
    page.get_by_label("Yes" if qid == YES else "No", exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Continue", exact=True).click()
    if "/intake/warning/" in page.url:
        with page.expect_navigation():
            page.get_by_role("button", name="Continue with the questions").click()
    return qid


def _wrong_codes(fleet, tries: int) -> list[int]:
    """``tries`` wrong codes from one address through the balancer (one after the other, so round
    robin sends them to each process in turn), with the start page's token."""
    import httpx

    with httpx.Client(base_url=fleet.url, headers={"X-Forwarded-For": SPOOFED_CLIENT}, timeout=30) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/intake/").text).group(1)
        return [client.post("/intake/", data={"csrf_token": token, "code": "ABCD-EFGH-JK"}).status_code
                for _ in range(tries)]


def test_a_fleet_behind_a_balancer_survives_a_killed_process_and_a_database_restart(browser, fleet, ehr):
    from triage.records.store import open_store

    app1, app2, app3 = fleet.apps
    fleet.command("users", "add", "cora", "--role", "coordinator", "--password-stdin", stdin=PASSWORD + "\n")
    code, intake_id = _invite(fleet)

    # A coordinator signs in (password, then the second factor set up at this first sign-in).
    staff = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
    staff.set_default_timeout(20_000)
    staff.goto(f"{fleet.url}/staff/")
    staff.get_by_label("User name").fill("cora")
    staff.get_by_label("Password", exact=True).fill(PASSWORD)
    with staff.expect_navigation():
        staff.get_by_role("button", name="Sign in").click()
    answer_second_factor(staff, None, "cora")
    assert "P-FLEET" in staff.inner_text("main")

    # The patient opens the invitation and answers the first questions.
    patient = browser.new_context(viewport={"width": 360, "height": 740}).new_page()
    patient.set_default_timeout(20_000)
    patient.goto(f"{fleet.url}/intake/code/{code}")
    with patient.expect_navigation():
        patient.get_by_role("button", name="Start", exact=True).click()
    with patient.expect_navigation():
        patient.locator("a.button--start").click()
    answered = [_answer_one(patient), _answer_one(patient)]

    # One process dies without a word; the balancer's check takes it out, and the next pages come
    # from the other two with the same sessions.
    app2.kill()
    wait_until(lambda: _down(fleet, app2.name), "HAProxy to take app2 out")
    answered.append(_answer_one(patient))
    staff.reload()
    assert "P-FLEET" in staff.inner_text("main")  # still signed in

    # PostgreSQL goes down: every page says so plainly (503), every process says not ready.
    fleet.stop_database()
    try:
        for app in (app1, app3):
            wait_until(app.not_ready, f"{app.name}'s /readyz to say not ready")
        waiting = patient.url
        for _ in range(2):  # one page from each process that is left
            response = patient.reload()
            assert response.status == 503, response.status
            assert "Traceback" not in patient.content()
            assert patient.locator("h1").inner_text() == "Sorry, the service is not working just now"
        screenshot(patient, "fleet-patient-unavailable", widths=(320,))
        response = staff.reload()
        assert response.status == 503 and staff.locator("h1").inner_text() == "The service is not available just now"
        screenshot(staff, "fleet-staff-unavailable", widths=(1024,))
    finally:
        fleet.start_database()
    for app in (app1, app3):  # back by themselves, no restart
        wait_until(app.ready, f"{app.name} to be ready again", seconds=RECOVERY_SECONDS)

    # The patient goes on where they were (the page they reloaded), to the end, and sends.
    patient.goto(f"{fleet.url}/intake/start")
    with patient.expect_navigation():
        patient.locator("a.button--start").click()
    while "/intake/questions/" in patient.url:
        answered.append(_answer_one(patient))
    assert YES in answered
    assert patient.url.endswith("/intake/check"), patient.url
    with patient.expect_navigation():
        patient.get_by_role("button", name="Send answers").click()
    patient.wait_for_url("**/intake/done")

    # Acknowledged means kept: the sent intake and its alert are in the store.
    with open_store(fleet.db) as store:
        record = store.get(intake_id)
        assert record.status == "urgent" and record.answers[YES] == "yes" and record.patient_id == "P-FLEET"
        assert [(alert.intake_id, alert.question) for alert in store.open_alerts()] == [(intake_id, YES)]
    staff.goto(f"{fleet.url}/staff/alerts")
    assert "P-FLEET" in staff.inner_text("main")

    # Limits are the fleet's: 10 wrong codes from one address, spread over the processes, then refused.
    assert _wrong_codes(fleet, 11) == [400] * 10 + [429]
    assert all(app.text().count(" POST /intake/ 400 ") >= 4 for app in (app1, app3)), fleet.logs()

    # A CDS Hooks token is accepted once by the whole fleet.
    import httpx

    token = {"Authorization": f"Bearer {ehr.token(DISCOVERY_URL)}"}
    assert httpx.get(f"{app1.url}/cds-services", headers=token).status_code == 200
    assert httpx.get(f"{app3.url}/cds-services", headers=token).status_code == 401

    fleet.stop()
    responses = fleet.responses()
    assert len(responses) > 50 and not [r for r in responses if r[0] >= 500 and r[0] != 503], responses
    # 503 only while the database was down: the patient's two pages, and the staff page's alert poll
    # if it asked then.
    unavailable = [line for code, line in responses if code == 503]
    assert unavailable.count(f"GET {_path(waiting)} HTTP/1.1") == 2, responses
    assert unavailable.count("GET /staff/ HTTP/1.1") == 1, responses
    assert set(unavailable) <= {f"GET {_path(waiting)} HTTP/1.1", "GET /staff/ HTTP/1.1",
                                "GET /staff/alerts.json HTTP/1.1"}, responses
    logs = fleet.logs()
    assert " 500 " not in logs and "Traceback" not in logs, logs


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path


def _down(fleet, name: str) -> bool:
    """HAProxy logged that it took ``name`` out (its health check failed)."""
    text = fleet.balancer_log.read_text(encoding="utf-8", errors="replace")
    return f"Server apps/{name} is DOWN" in text
