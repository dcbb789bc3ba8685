"""The staff pages through Flask's test client: sign-in and sessions, every route for every kind of
visitor (the authorization matrix), the worklist, the summary and its print view, invitations,
attaching a reference, red-flag alerts raised by a patient's answer, and the audit rows."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("flask")

from conftest import ROOT, run_cli  # noqa: E402
from support.web import (PASSWORD, Patient, answer_all, errors, hidden, invite, log_rows, make_app,  # noqa: E402
                         second_factor, sign_in)
from support.web_fixtures import STAFF, clock, store_and_app  # noqa: E402,F401 (fixtures)
from triage.records.store import open_store  # noqa: E402


db, app = store_and_app(staff=STAFF, kiosk=True)


def patient_with_red_flag(app, db, flag: str = "red_flag_bladder_bowel", send: bool = True, **invite_options) -> int:
    code, intake_id = invite(db, **invite_options)
    visitor = Patient(app.test_client()).open_code(code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, {flag: {"answer": "yes"}})
    if send:
        visitor.post()
        assert visitor.path == "/intake/done"
    return intake_id


def audit(db: Path, table: str = "audit") -> list[tuple]:
    """The audit chain's rows (what changed the record), or the access log's (who viewed what)."""
    return log_rows(db, "user, action, intake_id, version, detail", table)


# --- sign-in and sessions ---------------------------------------------------------------------------

def test_every_staff_page_sends_an_anonymous_visitor_to_sign_in(app):
    response = app.test_client().get("/staff/intakes/1?version=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in?next=/staff/intakes/1?version%3D1"


def test_sign_in_then_sign_out(app, db):
    staff = sign_in(app.test_client(), "cora")
    assert staff.path == "/staff/" and "Worklist" in staff.page and "cora (coordinator)" in staff.page
    staff.post("/staff/sign-out")
    assert staff.path.startswith("/staff/sign-in") and "You are signed out." in staff.page
    assert staff.get("/staff/").path.startswith("/staff/sign-in")
    assert [row[1] for row in audit(db) if row[0] == "cora"] == ["second_factor_enrolled"]
    actions = [row[1] for row in audit(db, "access_log") if row[0] == "cora"]
    assert actions[:3] == ["signed_in", "listed", "signed_out"]


def test_sign_in_goes_to_the_page_asked_for_but_never_off_the_staff_pages(app, db):
    client = app.test_client()
    staff = Patient(client).get("/staff/alerts")
    assert staff.path.startswith("/staff/sign-in")
    second_factor(staff.post(name="cora", password=PASSWORD), "cora")
    assert staff.path == "/staff/alerts"
    other = Patient(app.test_client()).get("/staff/sign-in?next=https://evil.example/")
    second_factor(other.post(name="cora", password=PASSWORD), "cora")
    assert other.path == "/staff/"


@pytest.mark.parametrize("name, password", [("cora", "wrong password here"), ("nobody", PASSWORD), ("", "")])
def test_a_wrong_name_or_password_gets_one_plain_message(app, name, password):
    staff = Patient(app.test_client()).get("/staff/sign-in").post(name=name, password=password)
    assert staff.status == 400
    assert errors(staff.page) == ["The user name or password is not right."]
    assert password not in staff.page or not password


def test_sign_in_is_rate_limited_per_name_and_client(app, clock):
    staff = Patient(app.test_client()).get("/staff/sign-in")
    for _ in range(5):
        staff.post(name="cora", password="wrong password here")
    staff.post(name="cora", password=PASSWORD)
    assert staff.status == 429 and "Too many attempts" in staff.page
    clock.advance(15 * 60 + 1)
    second_factor(staff.get("/staff/sign-in").post(name="cora", password=PASSWORD), "cora")
    assert staff.path == "/staff/"


def test_a_new_session_id_at_sign_in(app, db):
    client = app.test_client()
    client.get("/staff/sign-in")
    assert client.get_cookie("triage_session") is None  # no session before sign-in
    # A session this browser had before (here a patient's: an attacker's own, planted) is not reused.
    Patient(client).open_code(invite(db)[0])
    before = client.get_cookie("triage_session").value
    staff = second_factor(Patient(client).get("/staff/sign-in").post(name="cora", password=PASSWORD), "cora")
    after = client.get_cookie("triage_session").value
    assert staff.path == "/staff/" and before != after
    # The old id opens nothing any more (session fixation).
    old = app.test_client()
    old.set_cookie("triage_session", before)
    assert old.get("/staff/").status_code == 303


def test_sessions_end_after_the_idle_minutes_and_polling_is_not_activity(app, clock):
    staff = sign_in(app.test_client(), "clint")
    for _ in range(6):
        clock.advance(5 * 60)
        assert staff.client.get("/staff/alerts.json").status_code == 200
    clock.advance(60)
    assert staff.client.get("/staff/alerts.json").status_code == 401
    assert staff.get("/staff/").path.startswith("/staff/sign-in")


def test_without_javascript_a_signed_in_page_is_covered_when_the_session_ends(db, clock, tmp_path):
    """Staff pages show patient information: nothing but a stylesheet whose delay is the staff idle
    limit takes them off an unattended screen without JavaScript (it covers the page then: tested in a
    real browser, test_web_idle_browser.py). The sign-in page shows nothing to hide."""
    settings = tmp_path / "clinic.toml"
    settings.write_text((ROOT / "settings" / "default.toml").read_text().replace("staff_idle_minutes = 30",
                                                                                 "staff_idle_minutes = 12"))
    app = make_app(db, clock=clock, kiosk=True, settings_path=settings)
    intake_id = patient_with_red_flag(app, db, patient_id="PT-STAFF-IDLE")
    sign_in_page = Patient(app.test_client()).get("/staff/sign-in")
    assert "idle.css" not in sign_in_page.page and "idle-cover" not in sign_in_page.page
    assert "idle-hidden-after" not in sign_in_page.page
    assert "Sessions end after 12 idle minutes." in sign_in_page.page
    staff = sign_in(app.test_client(), "clint")
    assert staff.path == "/staff/"
    pages = {"/staff/": staff.page}
    for path in (f"/staff/intakes/{intake_id}?version=1", "/staff/alerts"):
        pages[path] = staff.get(path).page
    assert "PT-STAFF-IDLE" in pages[f"/staff/intakes/{intake_id}?version=1"]
    for path, page in pages.items():
        assert '<link rel="stylesheet" href="/staff/idle.css">' in page, path
        assert re.search(r'<div class="width idle-hidden-after[ "]', page), path  # the wrapper of <main>
        cover = re.search(r'<section class="idle-cover" id="idle-cover".*?</section>', page, re.S).group(0)
        assert "Page hidden after 12 idle minutes" in cover
        assert "not left on an unattended screen" in cover
        assert f'href="{path}"' in cover.replace("&amp;", "&"), path  # this very page again
        assert "PT-STAFF-IDLE" not in cover
    response = staff.client.get("/staff/idle.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert ".idle-cover { animation: idle-show 0s linear 720s forwards; }" in css
    assert ".idle-hidden-after { animation: idle-hide 0s linear 720s forwards; }" in css
    assert ".idle-script .idle-cover, .idle-script .idle-hidden-after { animation: none; }" in css
    # Loading it is not activity: the idle time still counts from the last page.
    clock.advance(11 * 60)
    assert staff.client.get("/staff/idle.css").status_code == 200
    clock.advance(60 + 1)
    assert staff.get(f"/staff/intakes/{intake_id}").path.startswith("/staff/sign-in")


def test_the_idle_cover_of_a_page_a_form_led_to_links_the_worklist(app, db):
    """A page answering a form (a new invitation's code) is not shown again by a link: the cover
    offers the worklist, as sign-in does after a form."""
    staff = sign_in(app.test_client(), "cora").get("/staff/invite")
    assert 'href="/staff/invite">Show this page again</a>' in staff.page
    staff.post(expires_days="7")
    assert "Invitation ready" in staff.page
    assert 'href="/staff/">Show this page again</a>' in staff.page


def test_a_disabled_account_is_signed_out_at_its_next_request(app, db):
    staff = sign_in(app.test_client(), "clint")
    assert run_cli("users", "disable", "clint", "--db", str(db)).code == 0
    assert staff.get("/staff/").path.startswith("/staff/sign-in")
    again = Patient(app.test_client()).get("/staff/sign-in").post(name="clint", password=PASSWORD)
    assert again.status == 400


# --- your settings: the alert sound ---------------------------------------------------------------------

def test_the_alert_sound_is_off_until_the_member_turns_it_on_and_follows_them(app, db):
    staff = sign_in(app.test_client(), "clint").get("/staff/settings")
    assert staff.status == 200
    assert re.search(r'value="off" checked', staff.page) and not re.search(r'value="on" checked', staff.page)
    assert "data-alert-sound" not in staff.page
    before = len(audit(db))
    staff.post(alert_sound="on")
    assert staff.path == "/staff/settings?saved=on" and "Saved: the alert sound is on." in staff.page
    assert re.search(r'value="on" checked', staff.page) and 'data-alert-sound="on"' in staff.page
    with open_store(db) as store:
        assert store.get_user("clint").alert_sound is True
        assert store.get_user("cora").alert_sound is False  # one person's choice
    # Kept with the account: another browser signed in as the same member plays it too.
    elsewhere = sign_in(app.test_client(), "clint")
    assert 'data-alert-sound="on"' in elsewhere.page and 'id="alert-sound-blocked"' in elsewhere.page
    assert "Sound when a new red flag comes in: on" in elsewhere.get("/staff/alerts").page
    staff.get("/staff/settings").post(alert_sound="off")
    with open_store(db) as store:
        assert store.get_user("clint").alert_sound is False
    # A preference, not a record: no audit row (sign-in and the worklist views are the only new ones).
    assert {row[1] for row in audit(db)[before:]} <= {"signed_in", "listed"}


@pytest.mark.parametrize("form", [{}, {"alert_sound": "loud"}, {"alert_sound": "ON"}])
def test_a_forged_sound_choice_is_refused_and_changes_nothing(app, db, form):
    staff = sign_in(app.test_client(), "clint").get("/staff/settings")
    staff.post(data={**form}, follow=False)
    assert staff.status == 400
    with open_store(db) as store:
        assert store.get_user("clint").alert_sound is False


def test_the_sound_choice_needs_the_forms_token(app, db):
    staff = sign_in(app.test_client(), "clint")
    assert staff.client.post("/staff/settings", data={"alert_sound": "on"}).status_code == 400
    with open_store(db) as store:
        assert store.get_user("clint").alert_sound is False


# --- the authorization matrix -------------------------------------------------------------------------
# Every route of the app (as `triage serve --kiosk` builds it; Flask's url_map is enumerated, so a new
# route without a row fails test_every_route_has_a_row_in_the_matrix) x every kind of visitor:
#   anonymous    a browser with a session (a CSRF token) and nothing more
#   patient      a patient who opened an invitation code (at the start of their questions)
#   coordinator, clinician   signed-in staff of each role (second factor done)
#   pending      a member half-way: the password right, the second factor not yet set up
#   disabled     signed in, then the account was disabled (`triage users disable`)
#   reset        signed in, then the account's password was reset (`triage users reset-password`)
# CDS Hooks routes exist only when configured and take a bearer token, never a cookie: see
# tests/test_cds_hooks.py (every forged or missing token is 401).

VISITORS = ("anonymous", "patient", "coordinator", "clinician", "pending", "disabled", "reset")
SIGNED_IN = ("coordinator", "clinician")  # the only ones a staff page opens for
ENDED = ("disabled", "reset")  # their session ended at the account's change, on the server

ROUTES = [  # (method, path, form, allowed: {visitor kind: expected status})
    ("GET", "/staff/", {}, {"coordinator": 200, "clinician": 200}),
    ("GET", "/staff/intakes/{id}", {}, {"coordinator": 200, "clinician": 200}),
    ("GET", "/staff/intakes/{id}/print", {}, {"coordinator": 200, "clinician": 200}),
    ("GET", "/staff/alerts", {}, {"coordinator": 200, "clinician": 200}),
    ("GET", "/staff/alerts.json", {}, {"coordinator": 200, "clinician": 200}),
    # Only the idle minutes (the sign-in page says them too): open, so a page's cover never misses it.
    ("GET", "/staff/idle.css", {}, {kind: 200 for kind in VISITORS}),
    ("GET", "/staff/invite", {}, {"coordinator": 200, "clinician": 403}),
    ("POST", "/staff/invite", {"expires_days": "7"}, {"coordinator": 200, "clinician": 403}),
    ("POST", "/staff/intakes/{id}/patient-reference", {"patient_id": "P-ATTACHED"}, {"coordinator": 303, "clinician": 403}),
    ("POST", "/staff/alerts/{id}/acknowledge", {}, {"coordinator": 403, "clinician": 303}),
    ("GET", "/staff/intakes/{id}/records/current_mri", {}, {"coordinator": 200, "clinician": 403}),
    # (this intake's operative report is on file: the coordinator's request comes back refused, 400)
    ("POST", "/staff/intakes/{id}/records/surgical_report/request", {"source": "Dr Lee"},
     {"coordinator": 400, "clinician": 403}),
    ("POST", "/staff/sign-out", {}, {"coordinator": 303, "clinician": 303}),
    ("GET", "/staff/password", {}, {"coordinator": 200, "clinician": 200}),
    # The sign-in page: open (a signed-in member is sent on to the worklist).
    ("GET", "/staff/sign-in", {}, {**{kind: 200 for kind in VISITORS}, "coordinator": 303, "clinician": 303}),
    # A wrong password is the same plain refusal for everyone (a signed-in member trying it too).
    ("POST", "/staff/sign-in", {"name": "cora", "password": "not the password"}, {kind: 400 for kind in VISITORS}),
    # The second factor's pages are for a session half-way through signing in: anyone else is sent
    # to sign in (a signed-in member from there to the worklist).
    # A session half-way (the password right, the code not yet given: "pending") gets only these.
    ("GET", "/staff/second-factor", {}, {"coordinator": 303, "clinician": 303, "pending": 200}),
    ("POST", "/staff/second-factor", {"code": "123456"}, {"coordinator": 303, "clinician": 303, "pending": 303}),
    ("GET", "/staff/second-factor/setup", {}, {"coordinator": 303, "clinician": 303, "pending": 200}),
    ("GET", "/staff/second-factor/setup/qr.svg", {}, {**{kind: 404 for kind in VISITORS}, "pending": 200}),
    ("POST", "/staff/second-factor/setup", {"code": "123456"}, {"coordinator": 303, "clinician": 303,
                                                               "pending": 400}),
    ("POST", "/staff/password", {"current_password": "not it"}, {"coordinator": 400, "clinician": 400}),
    ("GET", "/staff/sessions", {}, {"coordinator": 200, "clinician": 200}),
    ("POST", "/staff/sessions/end", {"others": "1"}, {"coordinator": 303, "clinician": 303}),
    ("GET", "/staff/settings", {}, {"coordinator": 200, "clinician": 200}),
    ("POST", "/staff/settings", {"alert_sound": "on"}, {"coordinator": 303, "clinician": 303}),
    # A backlog's alerts acknowledged together (up to the newest the page showed: none here).
    ("POST", "/staff/alerts/backlog/acknowledge", {"reason": "Reviewed by the on-call clinician", "up_to": "0"},
     {"coordinator": 403, "clinician": 303}),
    # A patient's uploaded page: for signed-in staff only (no such file here).
    ("GET", "/staff/intakes/{id}/files/1", {}, {"coordinator": 404, "clinician": 404}),
]

# The patient's pages and the rest: "*" is every visitor not named. A staff session is no patient's:
# the patient's pages send it to the code page (/intake/) like anyone without an intake. `--kiosk`:
# anyone at the tablet may begin an intake (POST /intake/new). {revision}: the patient's draft's.
TO_START = (303, "/intake/")
PUBLIC_ROUTES = [  # (method, path, form, expected: {visitor kind or "*": status or (status, Location)})
    ("GET", "/", {}, {"*": (302, "/intake/")}),
    ("GET", "/healthz", {}, {"*": 200}),
    ("GET", "/readyz", {}, {"*": 200}),
    ("GET", "/static/app.js", {}, {"*": 200}),
    ("GET", "/intake/", {}, {"*": 200, "patient": (303, "/intake/start")}),
    ("POST", "/intake/", {"code": "NOT-A-CODE"}, {"*": 400}),
    ("GET", "/intake/code/NOT-A-CODE", {}, {"*": 200}),
    ("GET", "/intake/start", {}, {"*": TO_START, "patient": 200}),
    ("GET", "/intake/your-code", {}, {"*": TO_START, "patient": 200}),
    ("GET", "/intake/questions/red_flag_bladder_bowel", {}, {"*": TO_START, "patient": 200}),
    ("POST", "/intake/questions/red_flag_bladder_bowel", {"answer": "no", "revision": "{revision}"},
     {"*": TO_START, "patient": (303, "/intake/questions/")}),
    ("GET", "/intake/warning/red_flag_bladder_bowel", {}, {"*": TO_START, "patient": (303, "/intake/questions/")}),
    ("POST", "/intake/warning/red_flag_bladder_bowel", {"choice": "continue"}, {"*": TO_START,
                                                                               "patient": (303, "/intake/check")}),
    ("GET", "/intake/check", {}, {"*": TO_START, "patient": 200}),
    ("POST", "/intake/check", {"revision": "{revision}", "anyway": "1"}, {"*": TO_START,
                                                                         "patient": (303, "/intake/done")}),
    ("GET", "/intake/done", {}, {"*": TO_START, "patient": (303, "/intake/check")}),
    ("GET", "/intake/saved", {}, {"*": TO_START, "patient": 200}),
    ("GET", "/intake/stopped", {}, {"*": TO_START, "patient": 200}),
    ("POST", "/intake/still-here", {}, {"*": TO_START, "patient": 204}),
    ("GET", "/intake/language/es", {}, {"*": 303}),
    ("POST", "/intake/language/es", {}, {"*": 303}),
    ("POST", "/intake/leave", {}, {"*": (303, "/intake/ended")}),
    ("GET", "/intake/ended", {}, {"*": 200}),
    ("GET", "/intake/idle.css", {}, {"*": 200}),
    ("POST", "/intake/new", {}, {"*": (303, "/intake/your-code")}),
    ("GET", "/intake/checklist", {}, {"*": TO_START, "patient": 200}),
    # Records are sent from the patient's own phone with their code, never from the shared tablet
    # (this app is --kiosk): 404 for its patient too.
    ("GET", "/intake/records", {}, {"*": TO_START, "patient": 404}),
    ("POST", "/intake/records/surgical_report", {}, {"*": TO_START, "patient": 404}),
    ("POST", "/intake/records/remove", {"file": "1"}, {"*": TO_START, "patient": 404}),
]


def _as_rule(path: str) -> str:
    """The url_map rule a matrix path stands for."""
    path = re.sub(r"\{id\}", "<int:intake_id>", path)
    path = re.sub(r"/records/[a-z_]+/[a-z]+$", "/records/<item>/<action>", path)
    path = re.sub(r"/records/(?!remove$)[a-z_]+$", "/records/<item>", path)
    path = re.sub(r"/files/\d+$", "/files/<int:file_id>", path)
    path = re.sub(r"^/intake/(questions|warning)/[a-z_]+$", r"/intake/\1/<qid>", path)
    path = re.sub(r"^/intake/(code|language)/[A-Za-z-]+$", r"/intake/\1/<code>", path)
    return re.sub(r"^/static/.+$", "/static/<path:filename>", path)


def test_every_route_has_a_row_in_the_matrix(app):
    served = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    rows = {(method, _as_rule(path)) for method, path, _, _ in ROUTES + PUBLIC_ROUTES}
    assert served - rows == set(), "routes with no row in the authorization matrix"
    assert rows - served == set(), "matrix rows for routes that are not served"


def _visitor(app, db, visitor: str):
    """A client as ``visitor`` (see above), and the page it holds (its CSRF token)."""
    client = app.test_client()
    person = Patient(client)
    if visitor in SIGNED_IN:
        person = sign_in(client, "cora" if visitor == "coordinator" else "clint")
    elif visitor == "patient":
        code, _ = invite(db)
        person.open_code(code)
        person.get("/intake/check")  # the draft's revision is on it
    elif visitor == "pending":  # the password given, the second factor not (yet) set up
        person.get("/staff/sign-in").post(name="cora", password=PASSWORD)
        assert person.path == "/staff/second-factor/setup"
    elif visitor in ENDED:
        person = sign_in(client, "cora")
        with open_store(db) as store:
            if visitor == "disabled":
                store.update_user("cora", by="admin", disabled=True, action="user_disabled")
            else:  # as `triage users reset-password` does: every session of the account ends
                store.update_user("cora", by="admin", password_hash=store.get_user("clint").password_hash,
                                  action="password_reset")
    else:
        person.get("/intake/")  # a session with a CSRF token, nothing more
    return client, person


def _request(client, person, method: str, url: str, form: dict):
    if method == "GET":
        return client.get(url)
    fields = {key: (hidden(person.page, "revision") or "") if value == "{revision}" else value
              for key, value in form.items()}
    return client.post(url, data={"csrf_token": hidden(person.page, "csrf_token"), **fields})


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method, path, form, allowed", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_every_staff_route_for_every_kind_of_visitor(app, db, visitor, method, path, form, allowed):
    intake_id = patient_with_red_flag(app, db)
    client, person = _visitor(app, db, visitor)
    url = path.format(id=intake_id)
    response = _request(client, person, method, url, form)
    expected = allowed.get(visitor)
    if expected is None:  # not signed in as staff: the sign-in page (or 401 for the poll)
        # A disabled or reset account's session is gone at once, so its form's token is no one's:
        # refused (400) before the page acts.
        refused = (400,) if visitor in ENDED and method == "POST" else (303, 401)
        assert response.status_code in refused, (visitor, url, response.status_code)
        if response.status_code == 303:
            assert response.headers["Location"].startswith("/staff/sign-in")
        assert "intake" not in response.get_data(as_text=True).lower() or response.status_code == 303
    else:
        assert response.status_code == expected, (visitor, url, response.status_code)
    if visitor not in SIGNED_IN:  # nothing was done for a visitor who is not signed in
        with open_store(db) as store:
            assert store.get_user("cora").alert_sound is False
            assert store.open_alerts(intake_id), "an alert was acknowledged"
            assert store.load_draft(intake_id) is None or not store.load_draft(intake_id).answers.get("patient_id")


@pytest.mark.parametrize("visitor", VISITORS)
@pytest.mark.parametrize("method, path, form, expected", PUBLIC_ROUTES, ids=[f"{r[0]} {r[1]}" for r in PUBLIC_ROUTES])
def test_every_other_route_for_every_kind_of_visitor(app, db, visitor, method, path, form, expected):
    client, person = _visitor(app, db, visitor)
    response = _request(client, person, method, path, form)
    want = expected.get(visitor, expected["*"])
    if visitor in ENDED and method == "POST":
        want = 400  # the session ended with the account's change: its page's token is no one's
    status, location = want if isinstance(want, tuple) else (want, None)
    assert response.status_code == status, (visitor, path, response.status_code, response.headers.get("Location"))
    if location is not None:
        assert response.headers["Location"].startswith(location), (visitor, path, response.headers["Location"])
    if visitor != "patient":  # no one else gets a patient's questions or answers
        body = response.get_data(as_text=True)
        assert 'name="answer"' not in body and "Check your answers" not in body, (visitor, path)


def test_a_staff_form_without_its_token_is_refused(app, db):
    staff = sign_in(app.test_client(), "cora")
    assert staff.client.post("/staff/invite", data={"expires_days": "7"}).status_code == 400


def test_a_staff_post_saying_origin_null_is_refused_and_changes_nothing(app, db):
    """Our pages send their real origin (Referrer-Policy: same-origin); "null" is a page elsewhere
    hiding where it is. A patient's page still accepts it (see triage.channels.web.security.ORIGIN_REQUIRED)."""
    staff = sign_in(app.test_client(), "cora")
    token = hidden(staff.page, "csrf_token")
    for origin, status in (("null", 400), ("http://elsewhere.example", 400), ("http://localhost", 303)):
        response = staff.client.post("/staff/sessions/end", headers={"Origin": origin},
                                     data={"csrf_token": token, "others": "1"})
        assert response.status_code == status, origin
    assert staff.client.get("/staff/").status_code == 200  # still signed in: nothing was done
    visitor = Patient(app.test_client()).get("/intake/")
    response = visitor.client.post("/intake/new", headers={"Origin": "null"},
                                   data={"csrf_token": hidden(visitor.page, "csrf_token")})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/your-code"


# --- worklist, summary, print ------------------------------------------------------------------------

def test_the_worklist_has_the_rows_and_order_of_triage_list(app, db):
    for flag in ("red_flag_fever_or_wound", "red_flag_bladder_bowel", "red_flag_major_trauma"):
        patient_with_red_flag(app, db, flag)
    code, _ = invite(db, patient_id="P-DRAFT")  # a draft only
    listed = run_cli("list", "--db", str(db), "--format", "json").json["intakes"]
    staff = sign_in(app.test_client(), "cora")
    shown = [int(n) for n in re.findall(r'href="/staff/intakes/(\d+)"', staff.page)]
    assert shown == [row["intake_id"] for row in listed]
    assert "P-DRAFT" in staff.page and "draft" in staff.page
    staff.get("/staff/?status=draft")
    assert re.findall(r'href="/staff/intakes/(\d+)"', staff.page) == [str(row["intake_id"]) for row in listed
                                                                       if row["status"] == "draft"]
    assert staff.client.get("/staff/?status=nonsense").status_code == 400
    assert staff.client.get("/staff/?urgency=nonsense").status_code == 400
    # The red-flag tier filter is `triage list --urgency`'s, and an urgent row names its tier.
    for tier in ("emergency", "same_day"):
        by_tier = run_cli("list", "--db", str(db), "--format", "json", "--urgency", tier).json["intakes"]
        staff.get(f"/staff/?urgency={tier}")
        assert by_tier and re.findall(r'href="/staff/intakes/(\d+)"', staff.page) == [
            str(row["intake_id"]) for row in by_tier]
    assert "urgent EMERGENCY" in sign_in(app.test_client(), "cora").page


def test_a_drafts_row_shows_the_months_its_answers_give_as_in_triage_list(app, db):
    with open_store(db) as store:
        store.save_draft({"patient_id": "P-MONTHS", "assessment_date": "2026-11-24", "fusion_date": "2024-03"},
                         user="kiosk")
    staff = sign_in(app.test_client(), "cora")
    row = next(row for row in staff.page.split("<tr") if "P-MONTHS" in row)
    assert "<td>31</td>" in row, row
    assert run_cli("list", "--db", str(db), "--format", "json").json["intakes"][0]["months_since_fusion"] == 31


def test_a_patients_web_draft_shows_its_months_to_today_until_it_is_sent(app, db):
    with open_store(db) as store:  # a patient's draft on the web: no assessment date until sent
        store.save_draft({"patient_id": "P-WEB", "fusion_date": "2024-03"}, user="patient")
    before = _months_since("2024-03-31")  # the store's clock is the real one (the day may turn meanwhile)
    staff = sign_in(app.test_client(), "cora")
    row = next(row for row in staff.page.split("<tr") if "P-WEB" in row)
    assert any(f"<td>{months}</td>" in row for months in {before, _months_since("2024-03-31")}), row
    listed = run_cli("list", "--db", str(db), "--format", "json").json["intakes"]
    assert next(r for r in listed if r["patient_id"] == "P-WEB")["months_since_fusion"] in {before, _months_since("2024-03-31")}


def _months_since(fusion_day: str) -> int:
    from datetime import datetime, timezone

    from triage.core.dates import parse_full_date, whole_months_between

    return whole_months_between(parse_full_date(fusion_day), datetime.now(timezone.utc).date())


def _shown_ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/staff/intakes/(\d+)"', page)]


def _page_link(page: str, words: str) -> str | None:
    found = re.search(r'<a class="link" href="([^"]+)"[^>]*>' + words + "</a>", page)
    return html.unescape(found.group(1)) if found else None


def test_the_worklist_pages_from_where_the_last_one_ended(app, db):
    """Keyset pages: each page starts after the last row of the one before (no offset to count
    through at 100,000 intakes); next, previous and first links; the pages together are the list."""
    with open_store(db) as store:
        for n in range(120):
            store.save_draft({"patient_id": f"P-{n}"}, user="t")
        whole = [row.intake_id for row in store.worklist()]
    staff = sign_in(app.test_client(), "clint")
    assert "120 intakes, 50 on this page" in staff.page
    assert _page_link(staff.page, "Previous page") is None and _page_link(staff.page, "First page") is None
    pages = [_shown_ids(staff.page)]
    while (following := _page_link(staff.page, "Next page")) is not None:
        staff.get(following)
        pages.append(_shown_ids(staff.page))
    assert [len(page) for page in pages] == [50, 50, 20]
    assert sum(pages, []) == whole
    assert _page_link(staff.page, "First page") == "/staff/"
    staff.get(_page_link(staff.page, "Previous page"))  # back from the last page: the middle one again
    assert _shown_ids(staff.page) == pages[1] and _page_link(staff.page, "Next page")
    staff.get(_page_link(staff.page, "Previous page"))
    assert _shown_ids(staff.page) == pages[0] and _page_link(staff.page, "Previous page") is None
    for bad in ("x", "1.2.3", "-1.5", "1." + "9" * 30):
        assert staff.client.get(f"/staff/?after={bad}").status_code == 400
    assert staff.client.get("/staff/?after=1.1&before=1.2").status_code == 400
    past = staff.client.get("/staff/?after=99.999999")  # past the end (the list shrank): the first page
    assert past.status_code == 303 and past.headers["Location"].endswith("/staff/")


@pytest.mark.parametrize("count, pages", [(50, 1), (51, 2)])
def test_a_next_page_link_only_when_rows_follow(app, db, count, pages):
    with open_store(db) as store:
        for n in range(count):
            store.save_draft({"patient_id": f"P-{n}"}, user="t")
    staff = sign_in(app.test_client(), "clint")
    assert (_page_link(staff.page, "Next page") is not None) == (pages > 1)
    if pages > 1:
        staff.get(_page_link(staff.page, "Next page"))
        assert len(_shown_ids(staff.page)) == 1 and _page_link(staff.page, "Next page") is None


def test_the_summary_holds_what_triage_show_holds(app, db):
    intake_id = patient_with_red_flag(app, db, patient_id="P-SUM")
    staff = sign_in(app.test_client(), "clint").get(f"/staff/intakes/{intake_id}")
    text = staff.text
    with open_store(db) as store:
        record = store.get(intake_id)
    from triage.decision.result import Result

    result = Result.model_validate(record.result)
    assert "P-SUM" in text and "URGENT" in text.upper()
    for entry in result.trace:
        assert entry.rule in text
    for step in result.steps:
        assert step.title in text
    for point in result.discussion_points:
        assert point.text in text
    from triage.core.answers import RED_FLAGS
    from triage.core.questionnaire import load_questionnaire

    questionnaire = load_questionnaire()
    for flag in RED_FLAGS:  # every red-flag answer, the "no"s too
        assert questionnaire.item(flag).label in text
    assert f"Ruleset {result.ruleset.name} {result.ruleset.version}" in text
    assert "version 1" in text


def test_the_print_view_is_the_html_export_with_the_idle_cover_and_a_hash_only_style_policy(db, clock, tmp_path):
    """The print view shows patient information and has no script: like every signed-in page it is
    covered on screen when the session's idle time is up (in a real browser: test_web_idle_browser.py),
    with the same notice. Without the cover it is the HTML export byte for byte; the export has none."""
    settings = tmp_path / "clinic.toml"
    settings.write_text((ROOT / "settings" / "default.toml").read_text().replace("staff_idle_minutes = 30",
                                                                                 "staff_idle_minutes = 12"))
    app = make_app(db, clock=clock, settings_path=settings)
    intake_id = patient_with_red_flag(app, db, patient_id="PT-PRINT-IDLE")
    staff = sign_in(app.test_client(), "cora")
    path = f"/staff/intakes/{intake_id}/print?version=1"
    response = staff.client.get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "PT-PRINT-IDLE" in page

    # The cover: a style block of its own, the class that hides <main>, the notice after <main>.
    style = re.search(r"</style><style>(.*?)</style></head>", page, re.S).group(1)
    assert page.count("<main") == 1 and '<body><main class="idle-hidden-after">' in page
    cover = re.search(r"</main>(.*?)</body>", page, re.S).group(1)
    assert re.fullmatch(r'\s*<section class="idle-cover" id="idle-cover" .*</section>\s*', cover, re.S)
    assert "Page hidden after 12 idle minutes" in cover and "not left on an unattended screen" in cover
    assert f'href="{path}">Show this page again</a>' in cover.replace("&amp;", "&")
    assert "PT-PRINT-IDLE" not in cover
    # idle.css's very rules (720 s: the settings file's 12 minutes), on screen only.
    screen = style[style.index("@media screen {"):]
    assert ".idle-cover { animation: idle-show 0s linear 720s forwards; }" in screen
    assert ".idle-hidden-after { animation: idle-hide 0s linear 720s forwards; }" in screen
    assert style.count("animation:") == screen.count("animation:") == 3  # none outside the screen
    assert ".idle-cover { display: none; }" in style[:style.index("@media screen {")]  # never printed
    assert staff.client.get("/staff/idle.css").get_data(as_text=True) in screen

    # Without the cover it is the export (whose bytes the cover never touches).
    exported = run_cli("export", str(intake_id), "--format", "html", "--db", str(db)).out
    bare = (page.replace(f"<style>{style}</style>", "", 1).replace('<main class="idle-hidden-after">', "<main>", 1)
            .replace(cover, "", 1))
    assert bare == exported
    assert "idle-cover" not in exported and "idle-hidden-after" not in exported

    # The policy allows exactly the page's two style blocks, by their hashes, and nothing inline.
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    styles = re.findall(r"<style>(.*?)</style>", page, re.S)
    assert len(styles) == 2
    assert policy["style-src"] == " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'" for text in styles)
    assert policy["default-src"] == "'none'" and "script-src" not in policy
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "<script" not in page and "<link" not in page and " style=" not in page


def test_a_draft_only_intake_shows_its_answers_so_far(app, db):
    code, intake_id = invite(db, patient_id="P-HALF")
    staff = sign_in(app.test_client(), "clint").get(f"/staff/intakes/{intake_id}")
    assert staff.status == 200 and "No answers have been sent yet" in staff.page
    assert f"triage intake --resume-intake {intake_id}" in staff.page
    assert staff.client.get("/staff/intakes/999").status_code == 404
    assert staff.client.get(f"/staff/intakes/{intake_id}/print").status_code == 404


def test_views_prints_and_acknowledgements_are_audited_without_answer_values(app, db):
    intake_id = patient_with_red_flag(app, db, patient_id="P-AUDIT")
    staff = sign_in(app.test_client(), "clint")
    staff.get(f"/staff/intakes/{intake_id}")
    staff.client.get(f"/staff/intakes/{intake_id}/print")
    staff.get("/staff/alerts").post(f"/staff/alerts/{intake_id}/acknowledge")
    rows = [row for row in audit(db) if row[0] == "clint"]
    assert [row[1] for row in rows] == ["second_factor_enrolled", "acknowledged"] and rows[1][2] == intake_id
    accesses = [row for row in audit(db, "access_log") if row[0] == "clint"]
    assert [row[1] for row in accesses] == ["signed_in", "listed", "viewed", "exported"]
    assert all(row[2] == intake_id for row in accesses[2:])
    text = json.dumps(audit(db) + audit(db, "access_log"))
    for value in ("P-AUDIT", "2024-03", "L4-L5", "back_and_leg", "red_flag_bladder_bowel"):
        assert value not in text


# --- invitations and references ------------------------------------------------------------------------

def test_a_coordinator_invites_and_the_code_works_for_the_patient(app, db):
    staff = sign_in(app.test_client(), "cora").get("/staff/invite")
    staff.post(patient_id="P-WEB", expires_days="3")
    code = re.search(r'code-display code-display--inline">([^<]+)<', staff.page).group(1)
    assert f"http://localhost/intake/code/{code}" in staff.page
    visitor = Patient(app.test_client()).open_code(code)
    assert visitor.path == "/intake/start"


@pytest.mark.parametrize("form, message", [
    ({"patient_id": "P-1", "expires_days": "0"}, "Enter a number of days from 1 to 90"),
    ({"patient_id": "x" * 201, "expires_days": "7"}, "Patient reference: is longer than 200 characters"),
])
def test_invite_errors_are_plain(app, form, message):
    staff = sign_in(app.test_client(), "cora").get("/staff/invite").post(**form)
    assert staff.status == 400 and errors(staff.page) == [message]


def test_attach_a_reference_to_a_kiosk_intake_draft_and_record(app, db):
    visitor = Patient(app.test_client()).get("/intake/").post("/intake/new")
    with open_store(db) as store:
        kiosk_id = max(row.intake_id for row in store.worklist())
    staff = sign_in(app.test_client(), "cora").get(f"/staff/intakes/{kiosk_id}")
    assert "Attach a patient reference" in staff.page
    staff.post(f"/staff/intakes/{kiosk_id}/patient-reference", patient_id="P-KIOSK")
    with open_store(db) as store:
        assert store.load_draft(kiosk_id).answers["patient_id"] == "P-KIOSK"
    # A recorded intake without a reference gets a new version with it; the result is unchanged.
    sent_id = patient_with_red_flag(app, db)
    staff.get(f"/staff/intakes/{sent_id}").post(f"/staff/intakes/{sent_id}/patient-reference", patient_id="P-LATE")
    with open_store(db) as store:
        first, second = store.get(sent_id, 1), store.get(sent_id, 2)
    assert second.answers == {**first.answers, "patient_id": "P-LATE"} and second.source == "staff"
    assert {k: v for k, v in second.result.items() if k != "trace"} == {k: v for k, v in first.result.items() if k != "trace"}
    assert visitor.status == 200


# --- red-flag alerts --------------------------------------------------------------------------------------

def test_a_patients_yes_raises_an_alert_before_the_intake_is_sent(app, db):
    intake_id = patient_with_red_flag(app, db, "red_flag_major_trauma", send=False)
    staff = sign_in(app.test_client(), "cora")
    assert staff.client.get("/staff/alerts.json").json == {"signed_in": True, "intakes": 1, "emergency": 1,
                                                          "latest": 1}
    assert "1 intake with a red flag not yet acknowledged (1 emergency)" in staff.page  # the banner
    staff.get("/staff/alerts")
    assert f'href="/staff/intakes/{intake_id}"' in staff.page
    assert "Acknowledge" not in staff.text  # coordinators do not acknowledge


def test_a_clinician_acknowledges_and_who_and_when_are_kept(app, db, clock):
    first = patient_with_red_flag(app, db)
    clock_tick = patient_with_red_flag(app, db, "red_flag_fever_or_wound")  # same_day: after every emergency
    second = patient_with_red_flag(app, db, "red_flag_saddle_numbness")
    staff = sign_in(app.test_client(), "clint").get("/staff/alerts")
    order = [int(n) for n in re.findall(r'href="/staff/intakes/(\d+)"', staff.page)]
    assert order == [second, first, clock_tick]  # emergency first, then newest first
    staff.post(f"/staff/alerts/{clock_tick}/acknowledge")
    staff.post(f"/staff/alerts/{first}/acknowledge")
    assert re.findall(r'href="/staff/intakes/(\d+)"', staff.page) == [str(second)]  # the other two acknowledged
    connection = sqlite3.connect(db)
    row = connection.execute("SELECT acknowledged_by, acknowledged_at FROM alerts WHERE intake_id = ?", (first,)).fetchone()
    connection.close()
    assert row[0] == "clint" and row[1]


def test_alerts_come_from_any_channel_that_records_a_red_flag(db, app, answers_file):
    run = run_cli("assess", answers_file({"red_flag_saddle_numbness": "yes"}), "--save", "--db", str(db))
    assert run.code == 0
    staff = sign_in(app.test_client(), "clint")
    assert staff.client.get("/staff/alerts.json").json["intakes"] == 1


# --- accounts from the terminal -------------------------------------------------------------------------

def test_users_add_list_disable_reset(tmp_path, monkeypatch):
    import io

    db = tmp_path / "u.db"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    run = run_cli("users", "add", "dana", "--role", "clinician", "--password-stdin", "--db", str(db))
    assert run.code == 0 and run.err == "added: dana (clinician)\n"
    listing = run_cli("users", "list", "--db", str(db))
    assert re.search(r"^dana\s+clinician\s+active", listing.out, re.MULTILINE)
    assert PASSWORD not in listing.out and PASSWORD.encode() not in db.read_bytes()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    run = run_cli("users", "reset-password", "dana", "--password-stdin", "--db", str(db))
    assert run.code == 2 and "password: use at least 12 characters" in run.err
    assert run_cli("users", "add", "Bad Name", "--role", "clinician", "--db", str(db)).code == 2
    assert run_cli("users", "disable", "dana", "--db", str(db)).code == 0
    assert "disabled" in run_cli("users", "list", "--db", str(db)).out


def test_users_add_refuses_to_read_a_password_from_a_pipe_without_the_option(tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    run = run_cli("users", "add", "erin", "--role", "coordinator", "--db", str(tmp_path / "u.db"))
    assert run.code == 2 and "use --password-stdin" in run.err


def test_the_audit_chain_verifies_after_web_work(app, db):
    """Invitations, drafts saved from the web, kiosk intakes, alerts, acknowledgements and account
    changes all keep `triage audit verify` whole."""
    intake_id = patient_with_red_flag(app, db, patient_id="P-CHAIN")
    Patient(app.test_client()).get("/intake/").post("/intake/new")
    staff = sign_in(app.test_client(), "clint")
    staff.get(f"/staff/intakes/{intake_id}").post(f"/staff/alerts/{intake_id}/acknowledge")
    assert run_cli("users", "disable", "cora", "--db", str(db)).code == 0
    run = run_cli("audit", "verify", "--db", str(db))
    assert run.code == 0, run.out + run.err
