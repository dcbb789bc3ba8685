"""The web pages on PostgreSQL as a clinic runs them, with least privilege (issue 27.7): the store made by
its owner (`triage db migrate --app-role --admin-role`), accounts added by the admin role, and the
INSTALLED `triage serve` connected as the APPLICATION role, driven in Debian's chromium through every
action the pages offer: a patient with an invitation made on the staff pages answers through to send
(an emergency red flag: an alert); a reception-tablet intake is saved, left, and given a patient
reference; staff set up their second factor at first sign-in, sign in with a recovery code and a code
of their app, read the worklist, a summary and its print view, acknowledge the alert, end their other
sessions, change their own password (which ends their session elsewhere) and sign out; the admin role
disables an account (its web session ends); an EHR calls CDS Hooks. Every refusal of the role would be
a 500 in the server's log (the store's tests ran the store calls; this runs the pages).

The other browser tests serve the app in the test process as the store's owner, which is how the second
factor and the password change went refused to the application role until schema 13; this one fails
on that code (seen)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.cli import TRIAGE, installed_env
from support.web import FULL_INTAKE, PASSWORD
from support.web_browser import require_browser

pytest.importorskip("flask")

NEW_PASSWORD = "seven purple lanterns drifting north"
FLAG = "red_flag_saddle_numbness"  # an emergency red flag: answered yes, an alert is raised
PATIENT_ID = "P-APPROLE-1"
KIOSK_PATIENT_ID = "P-KIOSK-7"


@pytest.fixture(autouse=True)
def _tools():
    require_browser()


def triage(folder: Path, env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*TRIAGE, *args], cwd=folder, env=env, input=stdin, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def clinic(postgres_cluster, tmp_path):
    """A store migrated by its owner with an application and an admin role, two staff accounts added
    by the admin role: (scratch folder, environment, application URL, admin URL)."""
    owner_url = postgres_cluster.new_database()
    database = owner_url.split("/")[3].split("?")[0]
    app_role, admin_role = f"app_{database}", f"admin_{database}"
    for role in (app_role, admin_role):
        postgres_cluster.admin(f'CREATE ROLE "{role}" LOGIN')
    folder = tmp_path / "service"
    folder.mkdir()
    env = installed_env()
    for name in ("TRIAGE_DB", "TRIAGE_SETTINGS", "TRIAGE_CDS_HOOKS"):
        env.pop(name, None)
    try:
        migrated = triage(folder, env, "db", "migrate", "--db", owner_url, "--app-role", app_role,
                          "--admin-role", admin_role)
        assert migrated.returncode == 0, migrated.stderr
        admin_url = owner_url.replace("triage@", f"{admin_role}@")
        for name, role in (("cora", "coordinator"), ("clint", "clinician")):
            added = triage(folder, env, "users", "add", name, "--role", role, "--password-stdin", "--db", admin_url,
                           stdin=PASSWORD + "\n")
            assert added.returncode == 0, added.stderr
        yield folder, env, owner_url.replace("triage@", f"{app_role}@"), admin_url
    finally:
        postgres_cluster.drop_database(owner_url)
        for role in (app_role, admin_role):
            postgres_cluster.admin(f'DROP ROLE IF EXISTS "{role}"')


class Served:
    def __init__(self, base: str, log: Path):
        self.base, self.log = base, log
        found = re.search(r"metrics on (http://127\.0\.0\.1:\d+/metrics)", self.text())
        self.metrics = found.group(1) if found else None

    def open_alerts(self) -> float:
        """The metrics scrape's count of intakes with an open alert (its own store connection)."""
        scraped = urllib.request.urlopen(self.metrics, timeout=30).read().decode()
        return float(re.search(r"^triage_open_alerts (\S+)$", scraped, re.M).group(1))

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve(folder: Path, env: dict, db: str, *options: str):
    """The installed `triage serve` on the store as ``db``'s role (in TRIAGE_DB, as the docs say for a
    URL), its log in a file (a pipe could fill and stop the server); stopped by its process id."""
    log = folder / f"serve-{len(list(folder.glob('serve-*.log')))}.log"
    with open(log, "w", encoding="utf-8") as sink:
        server = subprocess.Popen([*TRIAGE, "serve", "--port", "0", *options], cwd=folder,
                                  env={**env, "TRIAGE_DB": db}, stdout=sink, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        base = None
        while base is None:
            found = re.search(r"serving on (http://127\.0\.0\.1:\d+)/intake/", log.read_text(encoding="utf-8"))
            if found:
                base = found.group(1)
            else:
                assert server.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "the server never said where it serves"
                time.sleep(0.1)
        while True:  # the socket listens before the web layer has taken over
            try:
                urllib.request.urlopen(base + "/readyz", timeout=30).read()
                break
            except OSError:
                assert server.poll() is None, log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        yield Served(base, log)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- in the browser -----------------------------------------------------------------------------------

def new_page(browser, width: int = 1024):
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.set_default_timeout(15_000)
    return context.new_page()


def click(page, role: str, name: str) -> None:
    """Press a control and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role(role, name=name, exact=True).click()


def main_text(page) -> str:
    return page.inner_text("main")


def sign_in(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/staff/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    click(page, "button", "Sign in")


def set_up_second_factor(page) -> tuple[str, int, list[str]]:
    """At a first sign-in, the key from the page into an authenticator app: (secret, step used,
    recovery codes)."""
    from triage.records import accounts

    assert page.url.split("?")[0].endswith("/staff/second-factor/setup"), page.url
    secret = page.locator("#secret").get_attribute("data-secret")
    step = accounts.totp_step(time.time())
    page.get_by_label("Code from your authenticator app").fill(accounts.totp_code(secret, step))
    click(page, "button", "Continue")
    assert "Your recovery codes" in main_text(page), main_text(page)
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) >= 2
    click(page, "link", "Continue")
    return secret, step, codes


def enter_code(page, code: str) -> None:
    assert page.url.split("?")[0].endswith("/staff/second-factor"), page.url
    page.get_by_label("Code from your authenticator app").fill(code)
    click(page, "button", "Continue")


def next_code(secret: str, used: int) -> tuple[str, int]:
    """The app's code of a time step after ``used`` (a code works once) that the server accepts now
    (it takes this step and one either side): no waiting for the clock."""
    from triage.records import accounts

    step = max(accounts.totp_step(time.time()), used + 1)
    return accounts.totp_code(secret, step), step


def signed_out(page, base: str) -> bool:
    """Whether this browser's staff session has ended (a staff page sends it to sign in)."""
    page.goto(f"{base}/staff/")
    return "/staff/sign-in" in page.url


def answer_questions(page, flag: str | None, **overrides: dict) -> None:
    """Every question shown until the check page: the plan of a full intake (``overrides`` by
    question), red flags no but ``flag`` yes (and on past its warning page)."""
    planned = dict(FULL_INTAKE) | overrides
    for _ in range(80):
        if "/intake/warning/" in page.url:
            assert page.get_by_role("link", name="Call 911").is_visible()  # the emergency card
            click(page, "button", "Continue with the questions")
            continue
        asked = re.search(r"/intake/questions/([a-z_]+)", page.url)
        if asked is None:
            break
        qid = asked.group(1)
        fields = {"answer": "yes"} if qid == flag else planned.get(qid, {"answer": "no"})
        for name, value in fields.items():
            if name == "answer":
                for one in [value] if isinstance(value, str) else value:
                    box = page.locator(f'input[name="answer"][value="{one}"]')
                    box.check() if box.count() else page.locator('input[name="answer"][value="unknown"]').check()
            else:
                page.locator(f'input[name="{name}"]').fill(value)
        click(page, "button", "Continue")
    assert page.url.split("?")[0].endswith("/intake/check"), page.url


def audited_actions(url: str) -> set[str]:
    """What the audit chain and the access log (page views, sign-in and out, exports) hold."""
    import psycopg

    with psycopg.connect(url) as connection:
        return {row[0] for row in connection.execute(
            "SELECT DISTINCT action FROM audit UNION SELECT DISTINCT action FROM access_log").fetchall()}


# --- the clinic's day ---------------------------------------------------------------------------------

def test_every_page_action_as_the_application_role(browser, clinic, tmp_path):
    from support.cds_hooks_support import BASE_URL, ISSUER, SERVICE_URL, FakeEhr, hook_request, response_resource, \
        answers_for

    folder, env, app_url, admin_url = clinic
    ehr = FakeEhr("ES384")
    (folder / "ehr.json").write_text(json.dumps(ehr.jwks()), encoding="utf-8")
    (folder / "cds.toml").write_text(f'[cds_hooks]\nbase_url = "{BASE_URL}/"\n[[cds_hooks.clients]]\n'
                                     f'issuer = "{ISSUER}"\njwks = "{folder / "ehr.json"}"\n', encoding="utf-8")
    env = {**env, "TRIAGE_CDS_HOOKS": str(folder / "cds.toml")}

    with serve(folder, env, app_url, "--metrics", "on", "--metrics-port", "0") as web, serve(folder, env, app_url, "--kiosk") as kiosk:
        base = web.base

        # The coordinator's first sign-in: the second factor is set up, then an invitation made.
        coordinator = new_page(browser)
        sign_in(coordinator, base, "cora", "not the password at all")  # a typo first: counted, audited
        assert "The user name or password is not right." in main_text(coordinator)
        sign_in(coordinator, base, "cora")
        _, _, desk_codes = set_up_second_factor(coordinator)
        assert coordinator.url.split("?")[0].endswith("/staff/"), coordinator.url
        coordinator.goto(f"{base}/staff/invite")
        coordinator.get_by_label("Patient reference").fill(PATIENT_ID)
        click(coordinator, "button", "Create the code")
        assert "Invitation ready" in coordinator.title()
        code = coordinator.locator(".code-display").inner_text().strip()
        intake = int(re.search(r"Intake (\d+)\.", main_text(coordinator)).group(1))

        # The patient, on a phone: the code, every question (an emergency yes), then send.
        patient = new_page(browser, 360)
        patient.goto(f"{base}/intake/code/{code}")
        click(patient, "button", "Start")
        click(patient, "link", "Start now")
        answer_questions(patient, FLAG, surgical_report_available={"answer": "no"}, mri_available={"answer": "no"})
        click(patient, "button", "Send answers")
        assert patient.url.endswith("/intake/done"), patient.url
        headings = patient.locator("main h1, main h2").all_inner_texts()
        assert headings[0].endswith("Get help now") and "Answers sent" in headings[1], headings

        # Records (issue 30): the MRI report cannot be had; the operative report is requested, then
        # received (a new version, triaged again).
        records = f"{base}/staff/intakes/{intake}/records"
        coordinator.goto(f"{records}/current_mri")
        coordinator.get_by_label("Why it cannot be had").fill("The imaging center closed")
        click(coordinator, "button", "Mark not obtainable")
        coordinator.goto(f"{records}/surgical_report")
        assert "Missing in version 1" in main_text(coordinator)
        coordinator.get_by_label("From whom").fill("The surgeon's office")
        click(coordinator, "button", "Record the request")
        coordinator.goto(f"{records}/surgical_report")
        assert "None yet." not in coordinator.locator("#requests").inner_text()
        click(coordinator, "button", "Mark received and triage again")
        coordinator.goto(f"{records}/surgical_report")
        assert "Not missing in version 2" in main_text(coordinator), main_text(coordinator)
        coordinator.goto(f"{records}/current_mri")
        assert "Missing in version 2" in main_text(coordinator)
        assert "None yet." not in coordinator.locator("#requests").inner_text()

        # The reception tablet: a new intake, one answer, saved for later; the desk attaches a reference.
        tablet = new_page(browser)
        tablet.goto(f"{kiosk.base}/intake/")
        click(tablet, "button", "Start a new questionnaire")
        click(tablet, "link", "Continue")
        click(tablet, "link", "Start now")
        tablet.locator('input[name="month"]').fill("3")
        tablet.locator('input[name="year"]').fill("2024")
        click(tablet, "button", "Save and come back later")
        click(tablet, "button", "Leave the questionnaire")  # the next patient gets a fresh tablet
        assert tablet.locator("main h1").inner_text() == "You left the questionnaire"
        kiosk_intake = intake + 1
        coordinator.goto(f"{base}/staff/intakes/{kiosk_intake}")
        coordinator.get_by_label("Attach a patient reference").fill(KIOSK_PATIENT_ID)
        click(coordinator, "button", "Attach")
        assert f"Intake {kiosk_intake}: {KIOSK_PATIENT_ID}" in main_text(coordinator)

        # The clinician's first sign-in (set-up), then the worklist, the summary and its print view.
        clinician = new_page(browser)
        sign_in(clinician, base, "clint")
        secret, used, recovery = set_up_second_factor(clinician)
        rows = clinician.locator("#worklist-rows tr")
        first = rows.first.inner_text().upper()
        assert PATIENT_ID in first and "URGENT EMERGENCY" in first and "ALERT" in first, first
        assert KIOSK_PATIENT_ID in main_text(clinician)
        clinician.goto(f"{base}/staff/intakes/{intake}")
        assert f"Intake {intake}: {PATIENT_ID}" in main_text(clinician)
        printed = clinician.context.new_page()
        printed.goto(f"{base}/staff/intakes/{intake}/print")
        assert PATIENT_ID in printed.inner_text("body")
        printed.close()

        # The alert: listed, then acknowledged from the alerts page.
        clinician.goto(f"{base}/staff/alerts")
        assert PATIENT_ID in main_text(clinician) and web.open_alerts() == 1
        click(clinician, "button", f"Acknowledge intake {intake}")
        assert PATIENT_ID not in main_text(clinician) and web.open_alerts() == 0

        # Signed in on a second computer with a recovery code, then with a code of the app; the first
        # computer's sessions page ends the other session each time.
        elsewhere = new_page(browser)
        sign_in(elsewhere, base, "clint")
        enter_code(elsewhere, "000000")  # mistyped: counted, audited
        assert "The code is not right" in main_text(elsewhere)
        enter_code(elsewhere, recovery[0])
        assert elsewhere.url.split("?")[0].endswith("/staff/"), elsewhere.url
        clinician.goto(f"{base}/staff/sessions")
        assert clinician.locator("#sessions-table tbody tr").count() == 2
        with clinician.expect_navigation():  # that one session's End button
            clinician.locator("#sessions-table tbody button").click()
        assert clinician.locator("#sessions-ended").inner_text() == "1 other session ended."
        assert signed_out(elsewhere, base)
        sign_in(elsewhere, base, "clint")
        code_now, used = next_code(secret, used)
        enter_code(elsewhere, code_now)
        assert elsewhere.url.split("?")[0].endswith("/staff/"), elsewhere.url

        # Their own password changed on the first computer: the other session ends, this one goes on.
        clinician.goto(f"{base}/staff/password")
        clinician.get_by_label("Current password", exact=True).fill(PASSWORD)
        clinician.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        clinician.get_by_label("New password again", exact=True).fill(NEW_PASSWORD)
        click(clinician, "button", "Change password")
        assert "Your password is changed" in main_text(clinician)
        assert signed_out(elsewhere, base)
        assert not signed_out(clinician, base)

        # Sign out, and in again with the new password (a recovery code: the app's code was used).
        click(clinician, "button", "Sign out")
        assert signed_out(clinician, base)
        sign_in(clinician, base, "clint", NEW_PASSWORD)
        enter_code(clinician, recovery[1])
        assert clinician.url.split("?")[0].endswith("/staff/"), clinician.url

        # The administrator (the admin role, at a terminal) disables the account: its session ends at once.
        disabled = triage(folder, env, "users", "disable", "clint", "--db", admin_url, "--user", "it-admin")
        assert disabled.returncode == 0, disabled.stderr
        assert signed_out(clinician, base)
        # The coordinator, also signed in at the front desk (a recovery code), ends all the others.
        desk = new_page(browser)
        sign_in(desk, base, "cora")
        enter_code(desk, desk_codes[0])
        assert not signed_out(desk, base)
        coordinator.goto(f"{base}/staff/sessions")
        click(coordinator, "button", "End all other sessions")
        assert coordinator.locator("#sessions-ended").inner_text() == "1 other session ended."
        assert signed_out(desk, base)
        click(coordinator, "button", "Sign out")
        assert signed_out(coordinator, base)

        # An EHR asks CDS Hooks about its own patient's answers (the token's replay check is in the store).
        body = json.dumps(hook_request(response_resource(answers_for("urgent")))).encode()
        call = urllib.request.Request(f"{base}/cds-services/fbss-preconsultation-summary", data=body, method="POST",
                                      headers={"Content-Type": "application/json", **ehr.authorization(SERVICE_URL)})
        with urllib.request.urlopen(call, timeout=30) as answer:
            assert answer.status == 200 and json.load(answer)["cards"]
        with pytest.raises(urllib.error.HTTPError) as replayed:  # the same token again: refused
            urllib.request.urlopen(call, timeout=30)
        assert replayed.value.code == 401

        for context in browser.contexts:
            context.close()
        logs = web.text() + kiosk.text()
    # (A 503 of /readyz while the server's pool opens is what a readiness probe is for: the loop waits it out.)
    served = "\n".join(line for line in logs.splitlines() if "/readyz 503" not in line)
    assert not re.search(r" 5\d\d [\d.]+ms", served) and "Traceback" not in logs and "ERROR" not in logs, logs
    # What the pages call that a day's clicks do not reach, as the same role: a password re-hashed at
    # sign-in (after an upgrade raises the hashing cost), and the purge of sessions that are over.
    from triage.records import accounts
    from triage.records.store import PASSWORD_REHASHED, open_store

    with open_store(app_url) as store:
        store.update_user("clint", by="clint", password_hash=accounts.hash_password(NEW_PASSWORD),
                          action=PASSWORD_REHASHED)
        assert accounts.verify_password(store.get_user("clint").password_hash, NEW_PASSWORD)
        assert store.purge_sessions(time.time() + 10 ** 7, {"patient": 60, "staff": 60}) > 0
        assert store.count_sessions() == 0
    done = audited_actions(app_url)
    assert {"password_rehashed", "invited", "created", "draft_saved", "alert_raised", "acknowledged", "listed", "viewed", "exported",
            "sign_in_failed", "signed_in", "signed_out", "second_factor_enrolled", "recovery_code_used",
            "sessions_ended", "password_changed", "record_requested", "record_received", "record_unobtainable",
            "amended"} <= done, done
    verified = triage(folder, env, "audit", "verify", "--db", app_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
