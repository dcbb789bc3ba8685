"""Helpers for the web tests: an app on a temporary store, and a patient that fills in pages through
Flask's test client the way a browser would (reading the CSRF token and draft revision from the page)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

TODAY = date(2026, 11, 27)


class Clock:
    """A monotonic clock the tests move by hand (idle timeouts, rate-limit windows)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_app(db: Path, **options):
    from triage.channels.web.app import create_app

    options.setdefault("today", lambda: TODAY)
    return create_app(store_path=db, **options)


def hidden(page: str, name: str) -> str | None:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    return match.group(1) if match else None


def hidden_fields(page: str) -> dict[str, str]:
    """Every hidden input of the page, as a browser submits them with the form."""
    return {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def errors(page: str) -> list[str]:
    """The error summary's links, as a patient reads them."""
    block = re.search(r'class="error-summary__list">(.*?)</ul>', page, re.S)
    if not block:
        return []
    return [re.sub(r"<[^>]+>", "", text).replace("&#34;", '"').replace("&#39;", "'").strip()
            for text in re.findall(r"<a [^>]*>(.*?)</a>", block.group(1), re.S)]


@dataclass
class Patient:
    client: Any
    page: str = ""
    path: str = ""
    status: int = 0
    history: list[str] = field(default_factory=list)

    def get(self, path: str) -> "Patient":
        response = self.client.get(path)
        while response.status_code in (302, 303):
            path = response.headers["Location"]
            response = self.client.get(path)
        self.page, self.path, self.status = response.get_data(as_text=True), path, response.status_code
        self.history.append(path)
        return self

    def post(self, path: str | None = None, data: dict | None = None, *, follow: bool = True, **fields) -> "Patient":
        path = path or self.path
        form: dict[str, Any] = {"csrf_token": "", **{k: html.unescape(v) for k, v in hidden_fields(self.page).items()}}
        form.update(data or {})
        form.update(fields)
        response = self.client.post(path, data=form)
        self.status = response.status_code
        if follow and response.status_code in (302, 303):
            return self.get(response.headers["Location"])
        self.page, self.path = response.get_data(as_text=True), path
        self.location = response.headers.get("Location")
        return self

    def open_code(self, code: str) -> "Patient":
        self.get("/intake/")
        return self.post("/intake/", code=code)

    def answer(self, **form) -> "Patient":
        """Submit the question page now shown (``answer=`` a value or list; ``day/month/year``)."""
        assert "/intake/questions/" in self.path, self.path
        return self.post(data=form)

    @property
    def text(self) -> str:
        """The page as a person reads it: tags removed, entities decoded."""
        return html.unescape(re.sub(r"<[^>]+>", " ", self.page))

    @property
    def question(self) -> str | None:
        match = re.match(r"/intake/questions/([a-z_]+)", self.path)
        return match.group(1) if match else None



def log_rows(db: Path, columns: str, table: str = "audit") -> list[tuple]:
    """``columns`` of every row of an SQLite store's audit chain, or (``table="access_log"``) of its
    access log, oldest first, read from the file itself."""
    import sqlite3

    connection = sqlite3.connect(db)
    try:
        return connection.execute(f"SELECT {columns} FROM {table} ORDER BY seq").fetchall()
    finally:
        connection.close()

# A whole patient intake as form answers, in question order: (question id, form fields).
FULL_INTAKE = [
    ("fusion_date", {"month": "3", "year": "2024"}),
    ("fused_levels", {"answer": ["L4-L5", "L5-S1"]}),
    ("surgical_report_available", {"answer": "yes"}),
    ("mri_available", {"answer": "yes"}),
    ("mri_date", {"month": "9", "year": "2026"}),
    ("annular_tear_levels", {"answer": ["L3-L4"]}),
    ("pain_location", {"answer": "back_and_leg"}),
    ("pain_quality", {"answer": ["aching", "burning"]}),
    ("pain_pattern_since_surgery", {"answer": "improved_then_returned"}),
    ("pain_score", {"answer": "7"}),
    ("hardware_problem_known", {"answer": "no"}),
    ("mechanical_symptoms", {"answer": "unknown"}),
]


def invite(db: Path, *, patient_id: str | None = None, days: int = 7, user: str = "coordinator",
           language: str | None = None) -> tuple[str, int]:
    """Issue a code as `triage invite` does (``language``: of the patient's pages, the store's default
    unless given); returns (code, intake id)."""
    from triage.records import invites
    from triage.records.store import open_store

    code = invites.new_code()
    with open_store(db) as store:
        draft = store.create_invite(invites.code_hash(code), expires_at=invites.expiry(days), user=user,
                                    answers={"patient_id": patient_id} if patient_id else None,
                                    **({"language": language} if language else {}))
    return code, draft.intake_id


def answer_all(patient: Patient, overrides: dict[str, dict] | None = None) -> Patient:
    """Answer every question shown until the check page; red-flag questions 'no' unless overridden."""
    overrides = overrides or {}
    planned = dict(FULL_INTAKE)
    for _ in range(60):
        if patient.question is None:
            if "/intake/warning/" in patient.path:
                patient.post(choice="continue")
                continue
            return patient
        qid = patient.question
        fields = overrides.get(qid) or planned.get(qid) or {"answer": "no"}
        patient.answer(**fields)
        assert patient.status == 200, (qid, patient.status, errors(patient.page))
    raise AssertionError("the questionnaire did not end")


PASSWORD = "correct horse battery staple"


_HASHES: dict[str, str] = {}


def add_staff(db: Path, name: str, role: str, password: str = PASSWORD) -> None:
    """An account as `triage users add` makes it (argon2id hashes cost ~0.1 s each: made once per password)."""
    from triage.records import accounts
    from triage.records.store import open_store

    if password not in _HASHES:
        _HASHES[password] = accounts.hash_password(password)
    with open_store(db) as store:
        store.add_user(name, role, _HASHES[password], by="admin")


def sign_in(client, name: str, password: str = PASSWORD) -> Patient:
    """A staff member signed in through the sign-in page (a Patient drives any browser-like client),
    with the one-time code of the second factor (set up at the first sign-in) when asked for it."""
    person = Patient(client).get("/staff/sign-in")
    person.post("/staff/sign-in", name=name, password=password)
    return second_factor(person, name)


def second_factor(person: Patient, name: str) -> Patient:
    """Answer the second-factor step now shown, as a member with an authenticator app does: at a first
    sign-in, set it up from the key on the page (then continue past the recovery codes); later, the
    code of a time step not used yet. Any other page: left as it is."""
    if person.path == "/staff/second-factor/setup":
        secret = re.search(r'data-secret="([A-Z2-7]+)"', person.page).group(1)
        person.post(code=totp_now(person.client.application, name, secret))
        if person.status == 200 and 'id="continue"' in person.page:
            person.get(html.unescape(re.search(r'id="continue" href="([^"]+)"', person.page).group(1)))
    elif person.path == "/staff/second-factor":
        person.post(code=totp_now(person.client.application, name))
    return person


def totp_now(app, name: str, secret: str | None = None) -> str:
    """A code an authenticator app would show for ``name`` now, of a time step the account has not
    used (a code works once): the app's clock is moved on by a step if a test's clock stands still."""
    from triage.records import accounts

    services = app.extensions["triage"]
    factor = services.store().second_factor(name)
    secret, last = (secret, None) if secret else factor
    for _ in range(3):
        current = accounts.totp_step(services.clock())
        for step in (current - 1, current, current + 1):
            if last is None or step > last:
                return accounts.totp_code(secret, step)
        if not hasattr(services.clock, "advance"):
            raise AssertionError("every code of this time step was used; wait for the next one")
        services.clock.advance(accounts.TOTP_PERIOD)
    raise AssertionError("no usable code")
