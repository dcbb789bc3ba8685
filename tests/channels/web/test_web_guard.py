"""The web pages tried as an attacker would (issue 27): bad input refused before anything is done,
guessing of passwords and codes limited without locking the clinic out (counters in the store,
taken atomically), and every failed sign-in, throttle and lock in the audit log."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

pytest.importorskip("flask")

from support.web import (PASSWORD, Patient, answer_all, invite, log_rows, make_app,  # noqa: E402
                         second_factor, sign_in)
from support.web_fixtures import STAFF, clock, store_and_app  # noqa: E402,F401 (fixtures)
from triage.records.store import open_store  # noqa: E402

WRONG = "wrong password here"


db, app = store_and_app(staff=STAFF, kiosk=True)


def client_from(app, address: str):
    """A browser at ``address`` (its own cookie jar)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def audit_rows(db: Path, *actions: str, table: str = "audit") -> list[tuple[str, str, dict]]:
    """Rows of the audit chain, or (``table="access_log"``) of the access log: who signed in, viewed."""
    rows = log_rows(db, "user, action, detail", table)
    # (an audit row about an account also carries the account's hash, for audit verify: not compared here)
    return [(user, action, {k: v for k, v in json.loads(detail).items() if k != "account_sha256"})
            for user, action, detail in rows if not actions or action in actions]


@pytest.fixture
def quick_passwords(monkeypatch):
    """Password checks without argon2's cost (many attempts per test), counted."""
    from triage.records import accounts

    checked: list[str] = []
    lock = threading.Lock()

    def verify(stored_hash: str, password: str) -> bool:
        with lock:
            checked.append(password)
        return password == PASSWORD

    monkeypatch.setattr(accounts, "verify_password", verify)
    monkeypatch.setattr(accounts, "verify_nobody", lambda password: verify("", "") and False)
    return checked


def red_flag_intake(app, db) -> int:
    code, intake_id = invite(db)
    visitor = Patient(app.test_client()).open_code(code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_all(visitor, {"red_flag_bladder_bowel": {"answer": "yes"}})
    visitor.post()
    return intake_id


# --- bad input: a plain 400 for the right audience, and nothing done -------------------------------

def test_a_line_break_in_next_is_a_staff_400_page(app):
    response = app.test_client().get("/staff/sign-in?next=/staff/%0D%0AX:%20y")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The request could not be used" in page and "Go to the worklist" in page
    assert "Go to the start page" not in page  # the patients' wording


def test_a_refused_acknowledgement_acknowledges_nothing(app, db):
    intake_id = red_flag_intake(app, db)
    clinician = sign_in(app.test_client(), "clint")
    clinician.get("/staff/alerts")
    clinician.post(f"/staff/alerts/{intake_id}/acknowledge", follow=False, next="/staff/\r\nX: y")
    assert clinician.status == 400 and "The request could not be used" in clinician.page
    with open_store(db) as store:
        assert [alert.intake_id for alert in store.open_alerts()] == [intake_id]
    clinician.get("/staff/alerts")
    clinician.post(f"/staff/alerts/{intake_id}/acknowledge", follow=False, next="/staff/alerts")
    assert clinician.status == 303
    with open_store(db) as store:
        assert store.open_alerts() == []


@pytest.mark.parametrize("character", ["\x00", "\n", "\r", "\x1b", "\x7f", "\x85", "\u2028"])
def test_a_control_character_in_any_patient_parameter_is_a_patient_400_and_saves_nothing(app, db, character):
    code, intake_id = invite(db)
    visitor = Patient(app.test_client()).open_code(code)
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    visitor.answer(month="3", year=f"2024{character}")
    assert visitor.status == 400 and "Go to the start page" in visitor.page
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {}
    assert app.test_client().get("/intake/", query_string={"lang": f"en{character}"}).status_code == 400


def test_a_code_pasted_with_a_tab_still_opens(app, db):
    code, _ = invite(db)
    visitor = Patient(app.test_client()).get("/intake/").post("/intake/", code=f"\t{code}\t")
    assert visitor.path == "/intake/start"


def test_an_ordinary_page_with_ordinary_parameters_is_not_refused(app):
    assert app.test_client().get("/intake/", query_string={"lang": "es"}).status_code == 200
    assert app.test_client().get("/staff/sign-in", query_string={"next": "/staff/alerts?x=1"}).status_code == 200


def test_kiosk_intakes_are_limited_per_address_and_per_minute(app, db, clock):
    clock.now = 6000.0  # the start of a minute
    here = client_from(app, "10.0.0.5")
    for _ in range(3):
        assert Patient(here).get("/intake/").post("/intake/new").path == "/intake/your-code"
        here.delete_cookie("triage_session", path="/")
    refused = Patient(here).get("/intake/").post("/intake/new")
    assert refused.status == 429 and "Please wait a minute" in refused.page
    # Another tablet is not held up; the same one is again within a minute.
    assert Patient(client_from(app, "10.0.0.6")).get("/intake/").post("/intake/new").path == "/intake/your-code"
    clock.advance(60)
    assert Patient(here).get("/intake/").post("/intake/new").path == "/intake/your-code"
    # For everyone: 20 a minute, from however many addresses.
    clock.advance(60)
    for number in range(20):
        assert Patient(client_from(app, f"10.1.0.{number}")).get("/intake/").post("/intake/new").status == 200
    assert Patient(client_from(app, "10.2.0.1")).get("/intake/").post("/intake/new").status == 429
    with open_store(db) as store:
        assert len(store.worklist()) == 3 + 1 + 1 + 20


# --- sign-in: guessing from elsewhere cannot lock the owner out --------------------------------------

def test_guessing_from_many_addresses_does_not_lock_out_the_owners_known_device(app, db, quick_passwords):
    own = client_from(app, "192.168.1.20")
    assert sign_in(own, "cora").path == "/staff/"  # her device is known from now on
    own.post("/staff/sign-out", data={"csrf_token": ""})
    for number in range(5):  # five wrong passwords for cora, from five addresses
        attacker = Patient(client_from(app, f"203.0.113.{number}")).get("/staff/sign-in")
        assert attacker.post(name="cora", password=WRONG).status == 400
    elsewhere = Patient(client_from(app, "203.0.113.99")).get("/staff/sign-in")
    assert elsewhere.post(name="cora", password=PASSWORD).status == 429  # a device cora never used
    assert sign_in(own, "cora").path == "/staff/"  # her own device: in
    # ...and her right password lifted the block for other devices too.
    assert second_factor(Patient(client_from(app, "203.0.113.99")).get("/staff/sign-in").post(
        name="cora", password=PASSWORD), "cora").path == "/staff/"


def test_the_limit_for_everyone_counts_each_failure_once_and_spares_known_devices(app, db, quick_passwords):
    devices = {name: client_from(app, "192.168.1.30") for name in ("cora", "clint")}
    for name, device in devices.items():
        assert sign_in(device, name).path == "/staff/"
    for number in range(99):  # 99 failures, 4 per address, over many names: under every limit
        attacker = Patient(client_from(app, f"198.51.100.{number // 4}")).get("/staff/sign-in")
        assert attacker.post(name=f"user{number}", password=WRONG).status == 400
    fresh = Patient(client_from(app, "198.51.100.200")).get("/staff/sign-in")
    assert fresh.post(name="nobody", password=WRONG).status == 400  # the 100th failure is still checked
    assert Patient(client_from(app, "198.51.100.201")).get("/staff/sign-in").post(
        name="cora", password=PASSWORD).status == 429  # now no device that was never used gets in
    for name in ("cora", "clint"):  # every account with a known device still does
        assert sign_in(client_from(app, "192.168.1.30"), name).status == 429  # (a new browser)
        assert sign_in(devices[name], name).path == "/staff/"
    assert len(quick_passwords) == 2 + 100 + 2


def test_concurrent_wrong_passwords_from_one_address_check_only_the_allowed_number(app, db, quick_passwords):
    start = threading.Barrier(24)
    statuses: list[int] = []

    def guess() -> None:
        client = client_from(app, "203.0.113.7")
        Patient(client).get("/staff/sign-in")
        page = Patient(client).get("/staff/sign-in")
        start.wait()
        statuses.append(page.post(name="cora", password=WRONG).status)

    threads = [threading.Thread(target=guess) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(quick_passwords) == 5
    assert sorted(statuses) == [400] * 5 + [429] * 19


def test_failed_sign_ins_throttles_and_locks_are_audit_rows_without_the_password(app, db, quick_passwords):
    attacker = Patient(client_from(app, "203.0.113.8")).get("/staff/sign-in")
    for _ in range(5):
        attacker.post(name="cora", password=WRONG)
    for _ in range(3):
        assert attacker.post(name="cora", password=WRONG).status == 429
    attacker.post(name="no-such-user", password="typed-in-the-wrong-box")
    rows = audit_rows(db, "sign_in_failed", "sign_in_throttled", "sign_in_locked")
    target = {"name": "cora", "address": "203.0.113.8", "known_device": False}
    assert rows[:7] == [("anonymous", "sign_in_failed", {**target, "reason": "wrong_password"})] * 5 + [
        ("anonymous", "sign_in_locked", {**target, "limit": "account"}),
        ("anonymous", "sign_in_throttled", {**target, "limit": "account"})]  # once, not per refusal
    assert rows[7:] == [("anonymous", "sign_in_failed", {"name": None, "address": "203.0.113.8",
                                                          "known_device": False, "reason": "unknown_name"})]
    text = Path(db).read_bytes()
    assert WRONG.encode() not in text and b"typed-in-the-wrong-box" not in text and b"no-such-user" not in text
    with open_store(db) as store:
        assert store.verify_audit().ok


# --- invitation codes ---------------------------------------------------------------------------------

def test_guessing_codes_from_many_addresses_does_not_lock_out_a_patient_with_a_valid_code(db, clock):
    # Patients on their own phones, one address each (a kiosk counts per code typed: test_web_patient_paths)
    app = make_app(db, clock=clock)
    limiter = app.extensions["triage"].code_limiter
    limiter.global_limit = 30  # (300 in service; the same rule at a tenth of the size)
    code, _ = invite(db)
    for address in range(3):
        guesser = Patient(client_from(app, f"203.0.113.{address}")).get("/intake/")
        for _ in range(10):
            assert guesser.post("/intake/", code="AAAAA-AAAAA").status == 400
        assert guesser.post("/intake/", code="AAAAA-AAAAB").status == 429  # this address: 10 per window
    patient = Patient(client_from(app, "192.0.2.50")).open_code(code)
    assert patient.path == "/intake/start"  # a fresh address with a valid code gets in
    late = Patient(client_from(app, "203.0.113.40")).get("/intake/")
    assert late.post("/intake/", code="AAAAA-AAAAA").status == 400  # one try for a new address...
    assert late.post("/intake/", code=code).status == 429  # ...then none, while everyone's limit holds
    rows = audit_rows(db, "code_throttled", "code_locked")
    assert ("anonymous", "code_locked", {"address": "203.0.113.2", "limit": "everyone"}) in rows
    assert ("anonymous", "code_throttled", {"address": "203.0.113.40", "limit": "everyone"}) in rows
    assert [row for row in rows if row[2]["address"] == "203.0.113.0"] == [
        ("anonymous", "code_locked", {"address": "203.0.113.0", "limit": "address"}),
        ("anonymous", "code_throttled", {"address": "203.0.113.0", "limit": "address"})]
    assert b"AAAAA" not in Path(db).read_bytes()


def test_concurrent_wrong_codes_from_one_address_are_looked_up_only_the_allowed_number_of_times(app, db, monkeypatch):
    from triage.records.store import Store

    looked_up: list[str] = []
    real = Store.find_invite
    monkeypatch.setattr(Store, "find_invite", lambda self, digest: looked_up.append(digest) or real(self, digest))
    start = threading.Barrier(16)

    def guess() -> None:
        visitor = Patient(client_from(app, "203.0.113.9")).get("/intake/")
        start.wait()
        visitor.post("/intake/", code="AAAAA-AAAAA")

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(looked_up) == 10


# --- the counters themselves: atomic on both backends -----------------------------------------------

def test_counters_are_atomic_across_connections(store_location):
    with open_store(store_location):
        pass
    seen: list[int] = []
    start = threading.Barrier(12)

    def count() -> None:
        with open_store(store_location) as store:
            start.wait()
            for _ in range(2):
                seen.append(store.count_hit("sign_in:203.0.113.1", 900, 1800))

    threads = [threading.Thread(target=count) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 25))
    with open_store(store_location) as store:
        assert store.hits("sign_in:203.0.113.1", (900, 1800)) == {900: 24}
        assert store.count_hit("sign_in:203.0.113.1", 2700, 3600) == 1  # a later window: the old one is gone
        assert store.hits("sign_in:203.0.113.1", (900,)) == {}


# --- passwords: common ones refused, and each member changes their own ------------------------------

@pytest.mark.parametrize("password, accepted", [
    ("password1234", False), ("qwertyuiop123", False), ("coordinator1234", False), ("iloveyou2026!", False),
    ("Password123456", False), ("abcdefghijkl", False), ("111111111111", False),
    ("correct horse battery staple", True), ("mydogsnameisrex", True), ("lantern orbit cactus", True),
])
def test_new_passwords_are_checked_against_common_and_leaked_passwords(password, accepted):
    from triage.records import accounts

    problem = accounts.check_password(password, "dana")
    assert (problem is None) == accepted, problem
    if not accepted:
        assert problem.startswith("this password is common or easy to guess")


def test_passwords_up_to_128_characters_of_any_script_are_taken_whole_and_129_are_refused():
    """ASVS 2.1.2-2.1.4: long pass phrases of any printable characters (spaces, accents, emoji) are
    allowed, nothing is cut off, and 129 characters are refused (boundary pair). (Passwords of 73 to
    128 characters once crashed the strength check: zxcvbn's own limit is 72 unless told.)"""
    from triage.records import accounts

    phrase = "lantern orbit cactus meadow café 🌵 "
    longest = (phrase * 8)[:accounts.MAX_PASSWORD]
    assert len(longest) == 128 and accounts.check_password(longest, "dana") is None
    assert accounts.check_password(longest + "x", "dana") == "use at most 128 characters"
    stored = accounts.hash_password(longest)
    assert accounts.verify_password(stored, longest)
    assert not accounts.verify_password(stored, longest[:-1])  # no truncation: one character less fails


def test_users_add_refuses_a_common_password(tmp_path, monkeypatch):
    import io

    from conftest import run_cli

    monkeypatch.setattr("sys.stdin", io.StringIO("password1234\n"))
    run = run_cli("users", "add", "dana", "--role", "clinician", "--password-stdin", "--db", str(tmp_path / "u.db"))
    assert run.code == 2 and "password: this password is common or easy to guess" in run.err


NEW_PASSWORD = "lantern orbit cactus meadow"


def test_a_member_changes_their_own_password(app, db):
    staff = sign_in(app.test_client(), "cora")
    assert 'href="/staff/password"' in staff.page
    staff.get("/staff/password")
    for form, status, message in (
            ({"current_password": WRONG, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}, 400,
             "The current password is not right"),
            ({"current_password": PASSWORD, "new_password": "password1234", "new_password_again": "password1234"},
             400, "New password: this password is common or easy to guess"),
            ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD + "x"},
             400, "Enter the same new password twice"),
            ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}, 200,
             "Your password is changed.")):
        staff.post("/staff/password", **form)
        assert staff.status == status and message in staff.page, form
    staff.post("/staff/sign-out")
    assert sign_in(app.test_client(), "cora").path == "/staff/sign-in"  # the old password: no more
    assert sign_in(app.test_client(), "cora", NEW_PASSWORD).path == "/staff/"
    rows = audit_rows(db, "password_changed", "sign_in_failed")
    assert [(user, action) for user, action, _ in rows] == [
        ("cora", "sign_in_failed"), ("cora", "password_changed"), ("anonymous", "sign_in_failed")]
    assert rows[0][2]["reason"] == "wrong_current_password"
    assert NEW_PASSWORD.encode() not in Path(db).read_bytes()


def test_a_member_chooses_a_pass_phrase_of_100_characters_and_signs_in_with_it(app, db):
    phrase = ("lantern orbit cactus meadow café 🌵 " * 4)[:100]  # over zxcvbn's own limit of 72
    staff = sign_in(app.test_client(), "cora").get("/staff/password")
    staff.post("/staff/password", current_password=PASSWORD, new_password=phrase, new_password_again=phrase)
    assert staff.status == 200 and "Your password is changed." in staff.page
    staff.post("/staff/sign-out")
    assert sign_in(app.test_client(), "cora", phrase).path == "/staff/"


def test_guessing_the_current_password_from_an_open_session_is_limited(app, db, quick_passwords):
    staff = sign_in(app.test_client(), "cora").get("/staff/password")
    for _ in range(5):
        assert staff.post("/staff/password", current_password=WRONG).status == 400
    assert staff.post("/staff/password", current_password=PASSWORD, new_password=NEW_PASSWORD,
                      new_password_again=NEW_PASSWORD).status == 429
    assert len(quick_passwords) == 1 + 5


# --- the second factor: one-time codes (RFC 6238) with recovery codes --------------------------------

def code_for(app, name: str, step_offset: int = 0) -> str:
    from triage.records import accounts

    services = app.extensions["triage"]
    secret, _ = services.store().second_factor(name)
    return accounts.totp_code(secret, accounts.totp_step(services.clock()) + step_offset)


def test_the_first_sign_in_sets_up_a_second_factor_before_any_staff_page_opens(app, db):
    import pyotp

    staff = Patient(client_from(app, "192.168.1.40")).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert staff.path == "/staff/second-factor/setup" and "Set up your sign-in code" in staff.page
    assert staff.client.get("/staff/").status_code == 303  # half-way: no staff page
    assert staff.client.get_cookie("triage_device", path="/staff/") is None
    secret = re.search(r'data-secret="([A-Z2-7]+)"', staff.page).group(1)
    assert "otpauth://totp/FBSS%20triage:cora?secret=" + secret in staff.page
    qr = staff.client.get("/staff/second-factor/setup/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<path" in qr.data
    assert qr.headers["Cache-Control"] == "no-store"
    assert app.test_client().get("/staff/second-factor/setup/qr.svg").status_code in (303, 404)  # others: none
    assert staff.post(code="000000").status == 400 and "The code is not right" in staff.page
    clock_now = app.extensions["triage"].clock()
    staff.post(code=pyotp.TOTP(secret).at(clock_now))
    assert staff.status == 200 and "Your recovery codes" in staff.page
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", staff.page)
    assert len(codes) == 10 and len(set(codes)) == 10 and all(len(code) == 23 for code in codes)
    assert staff.get("/staff/").path == "/staff/" and "Worklist" in staff.page
    assert [action for _, action, _ in audit_rows(db, "second_factor_enrolled", "sign_in_failed")] == [
        "sign_in_failed", "second_factor_enrolled"]
    assert [action for _, action, _ in audit_rows(db, "signed_in", table="access_log")] == ["signed_in"]
    stored = Path(db).read_bytes()
    assert not any(code.encode() in stored or code.replace("-", "").encode() in stored for code in codes)
    import hashlib

    [(_, _, enrolled)] = audit_rows(db, "second_factor_enrolled")
    assert enrolled["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()  # for audit verify


def test_later_sign_ins_ask_for_a_code_that_works_once(app, db, clock):
    sign_in(app.test_client(), "cora")
    clock.advance(60)
    code = code_for(app, "cora")
    first = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert first.path == "/staff/second-factor" and "Enter your code" in first.page
    assert first.post(code=code).path == "/staff/"
    again = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert again.post(code=code).status == 400  # the same code: refused (replay)
    assert again.post(code=code_for(app, "cora", -2)).status == 400  # an old one too
    assert again.post(code=code_for(app, "cora", +1)).path == "/staff/"  # the next one, a phone a little ahead


def test_a_recovery_code_signs_in_once(app, db):
    staff = Patient(app.test_client()).get("/staff/sign-in").post(name="clint", password=PASSWORD)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', staff.page).group(1)
    from support.web import totp_now

    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>",
                       staff.post(code=totp_now(app, "clint", secret)).page)
    for attempt, expected in ((codes[3].upper().replace("-", " "), "/staff/"), (codes[3], None)):
        person = Patient(app.test_client()).get("/staff/sign-in").post(name="clint", password=PASSWORD)
        person.post(code=attempt)
        assert (person.path if expected else person.status) == (expected or 400)
    used = audit_rows(db, "recovery_code_used")
    assert [(user, detail["left"]) for user, _, detail in used] == [("clint", 9)]


def test_wrong_codes_are_limited_and_audited(app, db, clock):
    sign_in(app.test_client(), "cora")
    clock.advance(60)
    person = Patient(client_from(app, "203.0.113.50")).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    for _ in range(5):
        assert person.post(code="000000").status == 400
    assert person.post(code=code_for(app, "cora")).status == 429
    rows = audit_rows(db, "sign_in_failed", "sign_in_locked", "sign_in_throttled")
    detail = {"name": "cora", "address": "203.0.113.50"}
    assert rows == [("anonymous", "sign_in_failed", {**detail, "reason": "wrong_second_factor"})] * 5 + [
        ("anonymous", "sign_in_locked", {**detail, "limit": "second_factor"}),
        ("anonymous", "sign_in_throttled", {**detail, "limit": "second_factor"})]


def test_with_the_setting_off_only_accounts_that_set_one_up_are_asked(db, clock, tmp_path):
    from triage.core.settings import shipped

    settings = tmp_path / "settings.toml"
    settings.write_text((shipped("settings") / "default.toml").read_text(encoding="utf-8").replace(
        'staff_second_factor = "required"', 'staff_second_factor = "off"'), encoding="utf-8")
    required = make_app(db, clock=clock)
    sign_in(required.test_client(), "cora")  # sets one up
    relaxed = make_app(db, clock=clock, settings_path=settings)
    plain = Patient(relaxed.test_client()).get("/staff/sign-in").post(name="clint", password=PASSWORD)
    assert plain.path == "/staff/"
    asked = Patient(relaxed.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert asked.path == "/staff/second-factor"


def test_an_administrator_resets_a_lost_second_factor(app, db):
    from conftest import run_cli

    sign_in(app.test_client(), "cora")
    run = run_cli("users", "reset-second-factor", "cora", "--db", str(db))
    assert run.code == 0 and "second factor reset: cora" in run.err
    again = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert again.path == "/staff/second-factor/setup"
    assert [action for _, action, _ in audit_rows(db, "second_factor_reset", "second_factor_enrolled")] == [
        "second_factor_enrolled", "second_factor_reset"]


def test_a_time_step_and_a_recovery_code_are_used_once_even_at_once(store_location):
    from triage.records import accounts

    with open_store(store_location) as store:
        store.add_user("cora", "coordinator", "not-a-real-hash", by="admin")
        codes = accounts.new_recovery_codes()
        assert store.enroll_second_factor("cora", "JBSWY3DPEHPK3PXP", 100, [accounts.recovery_hash("cora", c)
                                                                             for c in codes])
        assert not store.enroll_second_factor("cora", "JBSWY3DPEHPK3PXQ", 100, [])  # one already
    results: dict[str, list] = {"step": [], "recovery": []}
    start = threading.Barrier(8)

    def use() -> None:
        with open_store(store_location) as store:
            start.wait()
            results["step"].append(store.use_totp_step("cora", 101))
            results["recovery"].append(store.use_recovery_code("cora", accounts.recovery_hash("cora", codes[0]),
                                                               detail={}))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results["step"]) == [False] * 7 + [True]
    assert sorted(results["recovery"], key=str) == [9] + [None] * 7
    with open_store(store_location) as store:
        assert not store.use_totp_step("cora", 101) and store.use_totp_step("cora", 102)
        assert store.second_factor("cora") == ("JBSWY3DPEHPK3PXP", 102)
        assert store.verify_audit().ok


# --- the second factor's secret sealed with the audit key file (ASVS 2.8.2) ---------------------------

def key_file(folder: Path, *keys: str) -> Path:
    folder.mkdir(mode=0o700)
    path = folder / "audit.key"
    path.write_text("".join(f"{key}\n" for key in keys), encoding="ascii")
    path.chmod(0o600)
    return path


def stored_secret(db: Path, name: str) -> str:
    import sqlite3

    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT totp_secret FROM users WHERE name = ?", (name,)).fetchone()[0]


def test_with_the_audit_key_file_the_secret_set_up_at_sign_in_is_kept_sealed_and_signs_in(db, clock, tmp_path,
                                                                                           monkeypatch):
    from support.web import totp_now

    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "keys", "1f" * 32)))
    app = make_app(db, clock=clock)
    staff = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    secret = re.search(r'data-secret="([A-Z2-7]+)"', staff.page).group(1)
    assert "Your recovery codes" in staff.post(code=totp_now(app, "cora", secret)).page
    stored = stored_secret(db, "cora")
    assert stored.startswith("sealed:v1:") and secret not in stored
    assert secret.encode() not in db.read_bytes()  # nowhere in the file a backup copies
    clock.advance(60)
    again = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert again.post(code=code_for(app, "cora")).path == "/staff/"


@pytest.mark.parametrize("given", ["no key file", "a key file without its key"])
def test_a_secret_sealed_with_a_key_this_server_lacks_gives_a_plain_page_and_no_sign_in(db, clock, tmp_path,
                                                                                       monkeypatch, caplog, given):
    import logging

    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "keys", "1f" * 32)))
    sign_in(make_app(db, clock=clock).test_client(), "cora")
    key_id = stored_secret(db, "cora").split(":")[2]
    if given == "no key file":
        monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE")
    else:
        monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "other", "2e" * 32)))
    lacking = make_app(db, clock=clock)
    clock.advance(60)
    caplog.set_level(logging.WARNING, logger="triage.web")
    person = Patient(lacking.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert person.status == 503 and person.path == "/staff/sign-in"
    assert ("Your sign-in code cannot be checked on this server just now, so you cannot sign in here. Please tell "
            "your administrator.") in person.page and "Traceback" not in person.page
    assert person.client.get("/staff/").status_code == 303  # not signed in
    assert person.client.get("/staff/second-factor").status_code == 303  # nor half-way
    lines = [record.getMessage() for record in caplog.records if record.name == "triage.web"]
    assert len(lines) == 1 and "\n" not in lines[0], lines
    reason = {"no key file": "and no key file is given to this process (TRIAGE_AUDIT_KEY_FILE)",
              "a key file without its key": "and the key file given (TRIAGE_AUDIT_KEY_FILE) does not hold it"}[given]
    assert lines[0].startswith(f"sign-in refused: staff account cora: its second factor is sealed with key {key_id} "
                               f"{reason}"), lines
    # the refusal is audited when the audit chain can take it (a key file whose newest key continues it)
    if given == "a key file without its key":
        assert not audit_rows(db, "sign_in_failed")  # the chain is keyed with the key this file lacks


def test_a_server_without_the_key_of_a_signed_audit_chain_answers_plain_503_pages_and_says_why(
        db, clock, tmp_path, monkeypatch, caplog):
    """Anything that writes an audit or access-log row (here a wrong password) on a server not given the
    chain's key: nothing recorded, the plain "cannot be used right now" page (never a 500), and one log
    line telling the administrator what to give. Pages that record nothing still work."""
    import logging

    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "keys", "1f" * 32)))
    code, _ = invite(db)  # the chain is signed from here on
    monkeypatch.delenv("TRIAGE_AUDIT_KEY_FILE")
    lacking = make_app(db, clock=clock)
    caplog.set_level(logging.ERROR, logger=lacking.logger.name)
    rows = len(audit_rows(db))
    wrong = Patient(lacking.test_client()).get("/staff/sign-in").post(name="cora", password="not the password")
    assert wrong.status == 503 and "Traceback" not in wrong.page and "server_error" not in wrong.page
    assert Patient(lacking.test_client()).open_code(code).status == 200
    assert len(audit_rows(db)) == rows  # nothing recorded
    said = [r.getMessage() for r in caplog.records if r.name == lacking.logger.name]
    assert said and all(line.startswith("cannot record on ") and "give its key file (TRIAGE_AUDIT_KEY_FILE)" in line
                        for line in said), said


def test_a_sealed_secret_that_cannot_be_opened_at_the_code_step_or_with_the_setting_off_never_signs_in(
        db, clock, tmp_path, monkeypatch, caplog):
    from triage.core.settings import shipped

    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "keys", "1f" * 32)))
    app = make_app(db, clock=clock)
    sign_in(app.test_client(), "cora")
    clock.advance(60)
    # The key file lost between the password and the code (the process's store opened without it).
    person = Patient(app.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert person.path == "/staff/second-factor"
    app.extensions["triage"].store().audit_keys = None
    person.post(code="123456")
    assert person.status == 503 and "cannot be checked on this server" in person.page
    assert person.client.get("/staff/").status_code == 303
    # With staff_second_factor "off", an account that has one is still asked: refused, not let through.
    # Here the administrator rotated, then dropped the old key line: the chain goes on with the new key
    # (so the refusal is an audit row), cora's secret, sealed with the old one, no longer opens.
    settings = tmp_path / "settings.toml"
    settings.write_text((shipped("settings") / "default.toml").read_text(encoding="utf-8").replace(
        'staff_second_factor = "required"', 'staff_second_factor = "off"'), encoding="utf-8")
    from triage.records.store import AuditKeys

    with open_store(db, audit_keys=AuditKeys.load(key_file(tmp_path / "rotated", "1f" * 32, "2e" * 32))) as store:
        store.audit_event("sign_in_failed", user="anonymous", detail={"name": "clint", "reason": "wrong_password"})
    monkeypatch.setenv("TRIAGE_AUDIT_KEY_FILE", str(key_file(tmp_path / "dropped", "2e" * 32)))
    relaxed = make_app(db, clock=clock, settings_path=settings)
    off = Patient(relaxed.test_client()).get("/staff/sign-in").post(name="cora", password=PASSWORD)
    assert off.status == 503 and "cannot be checked on this server" in off.page
    assert off.client.get("/staff/").status_code == 303
    assert audit_rows(db, "sign_in_failed")[-1][2] == {"name": "cora", "address": "127.0.0.1",
                                                       "reason": "second_factor_unavailable"}
