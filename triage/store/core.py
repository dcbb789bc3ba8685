"""The intake store: a database of intakes, their versions and an audit log. An embedded SQLite file by
default; on a PostgreSQL server (``postgresql://...``, triage/store_postgresql.py) for a network of
clinics. One ``Store`` and one set of SQL statements for both: a backend (``SQLiteBackend`` here)
supplies the few things that differ.

Domain core: stdlib only (sqlite3, json, hashlib); it never imports the engine, rich or the CLI and
works on plain JSON dicts (the answers contract and the result contract).

What it guarantees
- Nothing recorded is overwritten: every assessment is a new row in ``versions`` (latest = highest
  version); triggers refuse UPDATE and DELETE on ``versions`` and ``audit``.
- Lost updates are refused: a change based on version N of an intake is only written while N is
  still the latest (optimistic concurrency); otherwise ``Conflict`` and nothing is written.
- Crash safety: WAL, ``synchronous=FULL``, one ``BEGIN IMMEDIATE`` transaction per change, so a
  change is either fully there after ``commit`` returns or not there at all. One exception, asked
  for by the caller: a draft saved with ``durable=False`` (the web's save at each Continue) is
  committed without waiting for the disk; see ``save_draft``.
- Tamper evidence: each audit row carries the hash of the previous row; each version's content hash
  is also written into the audit row that recorded it, each account's and invitation's hash into the
  rows about it (``verify_audit`` checks all of them, and re-triages each version's answers); with a
  key file outside the database the chain is a keyed MAC (``AuditKeys``, docs/security.md).
- Privacy: the database file is 0600 in a 0700 folder we create; errors and audit rows carry ids,
  versions and hashes, never an answer value.

Drafts (a questionnaire being answered) are work in progress, not records: one per intake, saved in
place at each answer (``save_draft``), resumable by intake id, removed when the assessment is recorded.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import os
import sqlite3
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from triage.errors import Conflict, IntakeNotFound, PatientChanged, StoreError

SCHEMA_VERSION = 12
APPLICATION_ID = 0x46425354  # "FBST": marks the file as a triage store (PRAGMA application_id)
BUSY_TIMEOUT_SECONDS = 10.0
GENESIS = "0" * 64  # prev_hash of the first audit row
APP_FOLDER = "fbss-triage"
DB_NAME = "triage.db"

# Actions in the audit log. Created/amended rows carry the content hash of the version they wrote.
CREATED, AMENDED = "created", "amended"
DRAFT_SAVED = "draft_saved"
DRAFT_SEALED = "draft_sealed"  # schema 2 migration: a draft found in the store, sealed with its hash
MIGRATION_USER = "triage-migration"
# Stores written before drafts could only be submitted also hold "draft_discarded" rows; verify reads them.
VIEWED, EXPORTED, LISTED = "viewed", "exported", "listed"
INVITED = "invited"  # an invitation code was issued for an intake (the code itself is never kept)
# Staff accounts of the web pages and what they did (never a password, never an answer value).
USER_ADDED, USER_DISABLED, PASSWORD_RESET, PASSWORD_REHASHED = "user_added", "user_disabled", "password_reset", "password_rehashed"
SIGNED_IN, SIGNED_OUT, ACKNOWLEDGED = "signed_in", "signed_out", "acknowledged"
PASSWORD_CHANGED = "password_changed"  # by the account's own member, on the web (guard)
# The second factor (guard): enrolled at a first sign-in, a recovery code used, reset by an admin.
SECOND_FACTOR_ENROLLED, RECOVERY_CODE_USED, SECOND_FACTOR_RESET = (
    "second_factor_enrolled", "recovery_code_used", "second_factor_reset")
# Guessing at the sign-in and code pages (guard): a checked attempt that failed, an attempt refused
# because a limit was reached (once per limit and window), and the failure that reached a limit.
# Their detail names the account targeted (when it exists) and the client address, never a password.
SIGN_IN_FAILED, SIGN_IN_THROTTLED, SIGN_IN_LOCKED = "sign_in_failed", "sign_in_throttled", "sign_in_locked"
CODE_THROTTLED, CODE_LOCKED = "code_throttled", "code_locked"
GUEST_USER = "anonymous"  # who made an attempt that did not sign in
ROLE_CHANGED = "role_changed"
SESSIONS_ENDED = "sessions_ended"  # a signed-in user ended their other sessions (the staff sessions page)
SESSION_KINDS = ("patient", "staff")
ALERT_RAISED = "alert_raised"  # its detail holds the alert's hash, never the question (an answer value)
# Schema 8 migration: accounts and invitations found in the store, sealed with their hashes as found.
ACCOUNT_SEALED, INVITE_SEALED = "account_sealed", "invite_sealed"
# An open alert's answer was changed from yes (or back to yes): the alert stays open for a clinician,
# marked "answer changed". Detail: the alert ids and "changed" true/false, never the answer.
ALERT_ANSWER_CHANGED = "alert_answer_changed"
SYSTEM_USER = "triage"  # who raises an alert: the tool, on an answer


def default_path() -> Path:
    """The per-user store: $XDG_DATA_HOME/fbss-triage/triage.db (default ~/.local/share/...)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_FOLDER / DB_NAME


def current_user() -> str:
    """Who is recording: the OS login name (``--user`` overrides it at the CLI)."""
    from triage.safe_text import unsafe_character

    try:
        name = getpass.getuser()  # from LOGNAME/USER first: whatever the environment says
    except Exception:  # no login name in some containers; the uid still says who
        name = ""
    if not name.strip() or len(name) > 100 or unsafe_character(name):
        return f"uid:{os.getuid()}"
    return name


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shipped_red_flag_tiers() -> dict[str, str]:
    """Each red-flag question's urgency tier, from the shipped rules file (loaded on the first red
    flag answered yes: a store that never sees one never reads it)."""
    from triage.ruleset import shipped_red_flag_tiers as tiers

    return tiers()


def canonical(value: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Ordered migrations: MIGRATIONS[n] takes a store from schema n to n + 1. Never edit a shipped one;
# append a new one and raise SCHEMA_VERSION.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE intakes (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    ) STRICT;

    CREATE TABLE versions (
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        version INTEGER NOT NULL CHECK (version >= 1),
        recorded_at TEXT NOT NULL,
        recorded_by TEXT NOT NULL,
        source TEXT NOT NULL,
        answers TEXT NOT NULL,
        result TEXT NOT NULL,
        status TEXT NOT NULL,
        patient_id TEXT,
        ruleset_name TEXT NOT NULL,
        ruleset_version TEXT NOT NULL,
        settings TEXT NOT NULL,
        content_sha256 TEXT NOT NULL,
        PRIMARY KEY (intake_id, version)
    ) STRICT;

    CREATE TABLE drafts (
        intake_id INTEGER PRIMARY KEY REFERENCES intakes(id),
        answers TEXT NOT NULL,
        revision INTEGER NOT NULL,
        base_version INTEGER NOT NULL,
        saved_at TEXT NOT NULL,
        saved_by TEXT NOT NULL
    ) STRICT;

    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        intake_id INTEGER,
        version INTEGER,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT;

    -- The last audit row, so that deleting rows at the end of the chain is detected too.
    CREATE TABLE audit_head (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    ) STRICT;

    CREATE TRIGGER versions_no_update BEFORE UPDATE ON versions
        BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;
    CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions
        BEGIN SELECT RAISE(ABORT, 'versions are append-only'); END;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE INDEX versions_status ON versions(status);
    """,
    # 2: audit verify cross-checks versions and drafts against their audit rows (an index for that
    # join), and each draft's content is sealed by a hash in the audit row that saved it; drafts
    # already in the store are sealed as found (``_seal_drafts``).
    """
    CREATE INDEX audit_intake_version ON audit(intake_id, version);
    """,
    # 2 -> 3: invitations to answer the questionnaire on the web (`triage invite`). Only the SHA-256 of
    # a code is kept, so the store never holds a code that opens an intake.
    """
    CREATE TABLE invites (
        code_sha256 TEXT PRIMARY KEY,
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        base_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) STRICT;

    CREATE INDEX invites_intake ON invites(intake_id);
    """,
    # 3 -> 4: staff accounts for the web pages (`triage users`), and red-flag alerts for staff.
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('coordinator', 'clinician')),
        password_hash TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        changed_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        question TEXT NOT NULL,
        urgency TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        UNIQUE (intake_id, question)
    ) STRICT;

    CREATE INDEX alerts_open ON alerts(acknowledged_at, raised_at);
    """,
    # 5: the language the patient read while answering (triage/languages.py), recorded with each
    # version; NULL = not recorded (staff entry, an answers file, or recorded before languages).
    """
    ALTER TABLE versions ADD COLUMN language TEXT;
    """,
    # 6: the worklist, one row per intake with the values `list` shows and filters by, written with
    # every change to the intake and checked by audit verify against the version (or draft) it comes
    # from; its item ids (missing records, VA to-do) in an indexed child table. Filled from the
    # recorded versions by ``_fill_worklist``.
    """
    CREATE TABLE worklist (
        intake_id INTEGER PRIMARY KEY REFERENCES intakes(id),
        version INTEGER NOT NULL,
        rank INTEGER NOT NULL,
        status TEXT NOT NULL,
        urgency TEXT,
        patient_id TEXT,
        months_since_fusion INTEGER,
        assessment_date TEXT,
        recorded_at TEXT NOT NULL,
        draft_pending INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE worklist_items (
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        kind TEXT NOT NULL,
        position INTEGER NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (intake_id, kind, position)
    ) STRICT;

    CREATE INDEX worklist_order ON worklist(rank, intake_id);
    CREATE INDEX worklist_status ON worklist(status, rank, intake_id);
    CREATE INDEX worklist_urgency ON worklist(urgency, rank, intake_id);
    CREATE INDEX worklist_patient ON worklist(patient_id);
    CREATE INDEX worklist_items_by_item ON worklist_items(kind, item, intake_id);
    CREATE INDEX versions_source ON versions(source);
    """,
    # 7: the language an invitation opens the web questionnaire in (`triage invite --lang`);
    # invitations issued before it open in English, as they always did.
    """
    ALTER TABLE invites ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
    """,
    # patientweb: 8: an alert raised at the reception tablet (`triage serve --kiosk`) says so, so that
    # staff walk to the patient in the waiting room rather than phone them.
    """
    ALTER TABLE alerts ADD COLUMN kiosk INTEGER NOT NULL DEFAULT 0 CHECK (kiosk IN (0, 1));
    """,
    # guard: 9: rate-limit counters shared by every web process (sign-in and code guessing, kiosk
    # intakes), one row per key and window, added to atomically (``Store.count_hit``); the devices a
    # staff member has signed in from (a hash of the device cookie's token), whose attempts are
    # counted apart, so that guessing from elsewhere cannot lock the owner out; and each account's
    # second factor: its TOTP secret (RFC 6238), the last time step used (a code works once), and
    # the hashes of its one-time recovery codes.
    """
    CREATE TABLE rate_limits (
        key TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        hits INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (key, window_start)
    ) STRICT;

    CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);

    CREATE TABLE known_devices (
        token_sha256 TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users(name),
        created_at TEXT NOT NULL,
        last_used_at TEXT NOT NULL
    ) STRICT;

    CREATE INDEX known_devices_user ON known_devices(user_name);

    ALTER TABLE users ADD COLUMN totp_secret TEXT;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

    CREATE TABLE recovery_codes (
        user_name TEXT NOT NULL REFERENCES users(name),
        code_sha256 TEXT NOT NULL,
        used_at TEXT,
        PRIMARY KEY (user_name, code_sha256)
    ) STRICT;
    """,
    # sessions: 10: the web pages' sessions, shared by every `triage serve` process on the store and
    # kept across restarts (triage/web/sessions.py): only the SHA-256 of a session id is kept, so the
    # store never holds a cookie that opens a session. Times are seconds since the epoch (idle and
    # lifetime arithmetic). ``users.session_generation`` goes up when an account is disabled, its
    # password or role changes: a staff session signed in under an older generation is over.
    # ``token_uses``: each CDS Hooks token id (jti) until the token expires, so a token is accepted
    # once by every process.
    """
    ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('patient', 'staff')),
        user_name TEXT,
        intake_id INTEGER,
        generation INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_seen_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        device TEXT NOT NULL,
        address TEXT NOT NULL
    ) STRICT;

    CREATE INDEX sessions_user ON sessions(user_name);
    CREATE INDEX sessions_expiry ON sessions(expires_at);
    CREATE INDEX sessions_idle ON sessions(kind, last_seen_at);

    CREATE TABLE token_uses (
        issuer TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (issuer, jti)
    ) STRICT;

    CREATE INDEX token_uses_expiry ON token_uses(expires_at);
    """,
    # verify: 11: audit verify checks who can sign in and where a code leads: every audit row about an
    # account carries the hash of the account's state after it (``account_hash``), every invitation's
    # audit row the invitation's hash (``invite_hash``). No new column; accounts and invitations
    # already in the store are sealed as found (``_seal_accounts_and_invites``).
    """
    -- (no schema change: a Python step only)
    """,
    # redflag: 12: a red flag answered yes raises its alert when the answer is saved, whatever the
    # channel (drafts too); an alert whose answer was changed from yes stays, marked (acknowledged or
    # not); one OPEN alert per question and intake (a partial unique index instead of the table-wide
    # UNIQUE, so that a yes given again after an acknowledged change raises a new one: the table is
    # rebuilt, ids and rows kept); the worklist sorts and filters an intake with an open alert by the
    # alert's tier (``alert_urgency``), sent or not. ``_raise_stored_red_flags`` raises the alerts of
    # drafts saved before this.
    """
    CREATE TABLE alerts_12 (
        id INTEGER PRIMARY KEY,
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        question TEXT NOT NULL,
        urgency TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        answer_changed_at TEXT,
        kiosk INTEGER NOT NULL DEFAULT 0 CHECK (kiosk IN (0, 1))
    ) STRICT;
    INSERT INTO alerts_12 (id, intake_id, question, urgency, raised_at, acknowledged_at, acknowledged_by, kiosk)
        SELECT id, intake_id, question, urgency, raised_at, acknowledged_at, acknowledged_by, kiosk FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_12 RENAME TO alerts;
    CREATE INDEX alerts_open ON alerts(acknowledged_at, raised_at);
    CREATE UNIQUE INDEX alerts_one_open ON alerts(intake_id, question) WHERE acknowledged_at IS NULL;
    CREATE INDEX alerts_intake ON alerts(intake_id, question);
    ALTER TABLE worklist ADD COLUMN alert_urgency TEXT;
    CREATE INDEX worklist_alert ON worklist(alert_urgency, rank, intake_id);
    """,
)


@dataclass(frozen=True)
class Record:
    """One recorded version of an intake."""

    intake_id: int
    version: int
    recorded_at: str
    recorded_by: str
    source: str
    answers: dict[str, Any]
    result: dict[str, Any]
    status: str
    patient_id: str | None
    ruleset: dict[str, str]
    settings: dict[str, Any]
    content_sha256: str
    language: str | None = None  # what the patient read while answering (None: not recorded)


@dataclass(frozen=True)
class VersionInfo:
    version: int
    recorded_at: str
    recorded_by: str
    source: str
    status: str
    # This version names another patient reference than the one before it (``--change-patient``): the
    # history says so (a flag, never the references, so that a de-identified export holds none).
    patient_changed: bool = False


@dataclass(frozen=True)
class Draft:
    intake_id: int
    answers: dict[str, Any]
    revision: int
    base_version: int  # the version this draft amends; 0 = a new intake
    saved_at: str
    saved_by: str


@dataclass(frozen=True)
class WorklistRow:
    """One line of the coordinator's worklist: the latest version of an intake (or its draft)."""

    intake_id: int
    version: int  # 0 = only a draft so far
    status: str  # a result status, or "draft"
    patient_id: str | None
    months_since_fusion: int | None
    assessment_date: str | None
    missing: list[str]
    recorded_at: str
    draft_pending: bool  # an unsubmitted draft exists (new intake or amendment in progress)
    urgency: str | None = None  # the consult's urgency tier (None for a draft)
    va_to_do: list[str] = field(default_factory=list)  # the VA community-care to-do, when a veteran
    alert_urgency: str | None = None  # the most urgent tier of its open red-flag alerts (None: none)


@dataclass(frozen=True)
class WorklistPage:
    """A page of the worklist with the counts the coordinator sees under it."""

    rows: list[WorklistRow]
    shown: int  # intakes matching the filters (all pages)
    total: int  # intakes in the store
    counts: dict[str, int]  # intakes per status, whatever the filters


@dataclass(frozen=True)
class Invite:
    """An invitation found by its code's hash. ``submitted``: a version was recorded since it was
    issued (the code no longer opens the intake)."""

    intake_id: int
    created_at: str
    expires_at: str
    submitted: bool
    language: str = "en"  # the language the web questionnaire opens in (the patient may switch)


@dataclass(frozen=True)
class User:
    """A staff account of the web pages."""

    name: str
    role: str
    password_hash: str
    disabled: bool
    created_at: str
    changed_at: str
    session_generation: int = 0  # goes up when the account is disabled, its password or role changes


@dataclass(frozen=True)
class WebSession:
    """A web session as the store keeps it (triage/web/sessions.py): never the session id itself,
    only its SHA-256. ``data``: what the pages keep in it (the CSRF token and, for staff, the account
    generation are columns). ``account_generation``: the account's generation now (None: no such
    account, or disabled); filled in by ``get_session`` only."""

    id_sha256: str
    kind: str  # "patient" or "staff"
    user: str | None  # the staff account
    intake_id: int | None  # the patient's intake
    generation: int  # the account's generation at sign-in (0 for a patient)
    csrf: str
    data: dict[str, Any]
    created_at: float  # seconds since the epoch
    last_seen_at: float
    expires_at: float  # the absolute end, whatever the activity
    device: str  # a summary of the browser's user agent ("Firefox on Linux")
    address: str
    account_generation: int | None = None


@dataclass(frozen=True)
class Alert:
    """A red-flag question answered yes in an intake, not yet acknowledged by a clinician."""

    intake_id: int
    question: str
    urgency: str
    raised_at: str
    patient_id: str | None
    kiosk: bool = False  # answered on the reception tablet: the patient is in the clinic now
    answer_changed_at: str | None = None  # the answer is no longer yes (since then); still open


@dataclass(frozen=True)
class AuditReport:
    rows: int
    head_hash: str
    problems: list[str] = field(default_factory=list)  # the first is the first broken place
    retriaged: int = 0  # versions whose answers were assessed again and gave their recorded decisions
    not_retriaged: int = 0  # versions recorded under a ruleset that is not the one installed
    unchecked_keyed: int = 0  # keyed rows whose MAC was not checked (no key file given)

    @property
    def ok(self) -> bool:
        return not self.problems


def content_hash(intake_id: int, version: int, recorded_at: str, recorded_by: str, source: str,
                 answers: dict, result: dict, settings: dict, language: str | None = None) -> str:
    content = {
        "intake_id": intake_id, "version": version, "recorded_at": recorded_at,
        "recorded_by": recorded_by, "source": source, "answers": answers, "result": result,
        "settings": settings,
    }
    if language is not None:  # versions without a language keep the hash they were recorded with
        content["language"] = language
    return sha256(canonical(content))


def draft_hash(intake_id: int, answers: dict, revision: int, base_version: int, saved_at: str,
               saved_by: str) -> str:
    """A draft is saved in place, so its row cannot be append-only: the audit row that saved it
    carries this hash instead, and `audit verify` checks the row against the latest one."""
    return sha256(canonical({"intake_id": intake_id, "answers": answers, "revision": revision,
                             "base_version": base_version, "saved_at": saved_at, "saved_by": saved_by}))


def alert_hash(alert_id: int, intake_id: int, question: str, urgency: str, raised_at: str) -> str:
    """An alert row is updated in place when acknowledged, so the audit row that raised it carries
    this hash of what staff are shown, and `audit verify` checks the row against it."""
    return sha256(canonical({"alert": alert_id, "intake_id": intake_id, "question": question,
                             "urgency": urgency, "raised_at": raised_at}))


# What audit verify checks of a staff account: the columns of ``users`` that decide who signs in, as
# what, with which password and second factor, each with the value that leaves it out of the hash.
# A column added by a later migration is listed here once, with the value it is added with, so that
# accounts hashed before it still verify; a column not in the store (yet) is skipped. Left out on
# purpose: a column that changes without an audit row (the last TOTP step used, at each sign-in).
REQUIRED = object()  # always hashed
ACCOUNT_COLUMNS: dict[str, Any] = {
    "name": REQUIRED, "role": REQUIRED, "password_hash": REQUIRED, "disabled": REQUIRED,
    "created_at": REQUIRED, "created_by": REQUIRED, "changed_at": REQUIRED,
    "totp_secret": None,  # the second factor's secret (guard): NULL until enrolled
    "session_generation": 0,  # goes up when an account's sessions must end (sessions)
}


# Rows of other tables that belong to an account and decide how it signs in, hashed with it when the
# table is in the store: table -> (the column naming the account, the columns hashed). The one-time
# recovery codes of the second factor (guard): a code's hash inserted by hand would open the account.
ACCOUNT_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "recovery_codes": ("user_name", ("code_sha256", "used_at")),
}


def account_state(db, name: str) -> dict[str, Any] | None:
    """The hashed state of one account as stored now (None: no such account)."""
    cursor = db.execute("SELECT * FROM users WHERE name = ?", (name,))
    row = cursor.fetchone()
    if row is None:
        return None
    return account_columns(dict(zip([column[0] for column in cursor.description], row)), db)


def account_columns(row: dict[str, Any], db=None) -> dict[str, Any]:
    state = {column: row[column] for column, omitted in ACCOUNT_COLUMNS.items()
             if column in row and (omitted is REQUIRED or row[column] != omitted)}
    for table, (owner, columns) in ACCOUNT_TABLES.items():
        if db is not None and _table_exists(db, table):
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {owner} = ? ORDER BY {columns[0]}",
                              (row["name"],)).fetchall()
            if rows:  # none: left out, so accounts hashed before the table existed still verify
                state[table] = [list(found) for found in rows]
    return state


def _table_exists(db, table: str) -> bool:
    if isinstance(db, sqlite3.Connection):
        return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
    return bool(db.execute("SELECT to_regclass(?) IS NOT NULL", (table,)).fetchone()[0])


def account_hash(state: dict[str, Any]) -> str:
    """An account row is changed in place (a reset, a disable, a second factor), so every audit row
    about it carries this hash of its state right after, and `audit verify` checks the row against
    the last one."""
    return sha256(canonical({"account": state}))


def invite_hash(code_sha256: str, intake_id: int, base_version: int, created_at: str, created_by: str,
                expires_at: str, language: str) -> str:
    """The audit row that issued an invitation carries this hash of it: where its code leads, from
    which version, until when (the code itself is never kept)."""
    return sha256(canonical({"invite": code_sha256, "intake_id": intake_id, "base_version": base_version,
                             "created_at": created_at, "created_by": created_by, "expires_at": expires_at,
                             "language": language}))


INVITE_COLUMNS = "code_sha256, intake_id, base_version, created_at, created_by, expires_at, language"


def audit_hash(seq: int, at: str, user: str, action: str, intake_id: int | None, version: int | None,
               detail: str, prev_hash: str) -> str:
    return sha256(canonical([seq, at, user, action, intake_id, version, detail, prev_hash]))


# -- the keyed chain ------------------------------------------------------------------------------
# With a key file outside the database (TRIAGE_AUDIT_KEY_FILE, or ``audit verify --key-file``), each
# audit row's hash is an HMAC-SHA256 under a key the database never holds, written as
# ``k<key id>:<hex>``: someone who holds only the database can still change rows, but can no longer
# recompute a chain that verifies. Once a row is keyed, every later row must be (a writer without
# the key refuses to write). The file lists keys oldest first; writers use the newest, and one that
# finds the chain keyed with a key it does not hold reads the file again (a rotation: docs/security.md).
AUDIT_KEY_FILE_VARIABLE = "TRIAGE_AUDIT_KEY_FILE"
KEYED_PREFIX = "k"


@dataclass(frozen=True)
class AuditKeys:
    path: Path
    keys: tuple[tuple[str, bytes], ...]  # (key id, key), oldest first

    @classmethod
    def load(cls, path: Path | str) -> "AuditKeys":
        path = Path(path)
        try:
            info = path.stat()
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            raise StoreError(f"{path}: no audit key file here") from None
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"{path}: cannot read the audit key file ({type(error).__name__})") from None
        if info.st_mode & 0o077:
            raise StoreError(f"{path}: the audit key file can be read by others; make it the owner's only "
                             "(chmod 600)")
        keys = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                key = bytes.fromhex(line)
            except ValueError:
                key = b""
            if len(key) < 32:
                raise StoreError(f"{path}: line {number} is not a key (64 or more hex digits: "
                                 "python3 -c 'import secrets; print(secrets.token_hex(32))')")
            keys.append((key_id(key), key))
        if not keys:
            raise StoreError(f"{path}: the audit key file holds no key")
        return cls(path, tuple(keys))

    @property
    def newest(self) -> tuple[str, bytes]:
        return self.keys[-1]

    def get(self, ident: str) -> bytes | None:
        return next((key for known, key in self.keys if known == ident), None)

    def order(self, ident: str) -> int:
        return next((number for number, (known, _) in enumerate(self.keys) if known == ident), -1)


def key_id(key: bytes) -> str:
    """Names a key in the rows it signed without revealing it."""
    return hashlib.sha256(b"fbss-triage audit key id\0" + key).hexdigest()[:12]


def keyed_audit_hash(ident: str, key: bytes, seq: int, at: str, user: str, action: str, intake_id: int | None,
                     version: int | None, detail: str, prev_hash: str) -> str:
    message = canonical([ident, seq, at, user, action, intake_id, version, detail, prev_hash])
    return f"{KEYED_PREFIX}{ident}:{hmac.new(key, message.encode('utf-8'), hashlib.sha256).hexdigest()}"


def keyed_by(digest: str) -> str | None:
    """The key id of a keyed row's hash; None for a plain SHA-256."""
    if digest.startswith(KEYED_PREFIX) and ":" in digest:
        return digest[len(KEYED_PREFIX):digest.index(":")]
    return None


def audit_keys_from_environment() -> AuditKeys | None:
    path = os.environ.get(AUDIT_KEY_FILE_VARIABLE, "").strip()
    return AuditKeys.load(path) if path else None


# The key file of the store being migrated (its migrations write audit rows, like any writer).
_MIGRATION_KEYS: ContextVar[AuditKeys | None] = ContextVar("triage_migration_keys", default=None)


def _row_hash(keys: AuditKeys | None, prev: str, seq: int, at: str, user: str, action: str, intake_id: int | None,
              version: int | None, text: str) -> str:
    """The hash of a new row: keyed when a key file is given; a chain that is keyed already is never
    continued without its key."""
    keyed = keyed_by(prev)
    if keys is not None and keyed is not None and keys.get(keyed) is None:
        keys = AuditKeys.load(keys.path)  # rotated since this process read it?
        if keys.get(keyed) is None:
            raise StoreError(f"{keys.path}: the store's audit log is keyed with a key this file does not hold "
                             f"(key id {keyed}); give the current key file; nothing was saved")
    if keys is None:
        if keyed is not None:
            raise StoreError(f"the store's audit log is keyed (key id {keyed}): give its key file "
                             f"({AUDIT_KEY_FILE_VARIABLE}); nothing was saved")
        return audit_hash(seq, at, user, action, intake_id, version, text, prev)
    ident, key = keys.newest
    return keyed_audit_hash(ident, key, seq, at, user, action, intake_id, version, text, prev)


def _append_audit(db: sqlite3.Connection, at: str, user: str, action: str, intake_id: int | None,
                  version: int | None, detail: dict[str, Any], keys: AuditKeys | None = None) -> None:
    """Append one row to the audit chain and move its head (inside the caller's transaction). A row
    about an account (no intake, ``name`` in its detail) carries the hash of the account's state as
    the transaction leaves it, whoever wrote the row: `audit verify` compares the last one with the
    account."""
    name = detail.get("name") if intake_id is None else None
    if isinstance(name, str):
        state = account_state(db, name)
        if state is not None:
            detail = {**detail, "account_sha256": account_hash(state)}
    head = db.execute("SELECT seq, hash FROM audit_head").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    text = canonical(detail)
    digest = _row_hash(keys or _MIGRATION_KEYS.get(), prev, seq, at, user, action, intake_id, version, text)
    db.execute("INSERT INTO audit (seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash)"
               " VALUES (?,?,?,?,?,?,?,?,?)", (seq, at, user, action, intake_id, version, text, prev, digest))
    db.execute("INSERT INTO audit_head (one, seq, hash) VALUES (1, ?, ?)"
               " ON CONFLICT(one) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, digest))


# -- the worklist -----------------------------------------------------------------------------
# One row per intake: what `list` shows and filters by, so that listing never parses a stored
# result. It is derived data: written with every change to its intake, from the latest version (or
# the draft of an intake that has none) by ``worklist_entry``, and checked by `audit verify` with the
# same function, so a hand-edited worklist is found like any other changed value.

_URGENCY_RANK = {"emergency": 0, "same_day": 1, "soon": 2}
_STATUS_RANK = {"too_early": 3, "records_needed": 4, "ready_for_evaluation": 5, "draft": 6}
WORKLIST_KINDS = ("missing", "va_to_do")


def worklist_rank(status: str, urgency: str | None, missing: list[str], alert_urgency: str | None = None) -> int:
    """The worklist's order: urgent first, by urgency tier (emergency, same day, soon), then too
    early, records needed, ready for evaluation, and intakes that only have a draft; within each,
    an open red-flag screen before the rest. An intake with an open red-flag alert sorts by the
    alert's tier among the urgent ones, whatever its status (a draft not sent yet included)."""
    tiers = []
    if status == "urgent":
        tiers.append(_URGENCY_RANK.get(urgency or "", 0))  # an unknown tier sorts with the most urgent
    if alert_urgency is not None:
        tiers.append(_URGENCY_RANK.get(alert_urgency, 0))
    tier = min(tiers) if tiers else _STATUS_RANK.get(status, 7)
    return tier * 2 + (0 if "red_flag_screen" in missing else 1)


def most_urgent(tiers) -> str | None:
    """The most urgent of these tiers (None: none)."""
    ranked = sorted((tier for tier in tiers if tier), key=lambda tier: _URGENCY_RANK.get(tier, 0))
    return ranked[0] if ranked else None


def open_alert_tier(db, intake_id: int) -> str | None:
    """The most urgent tier of an intake's open (unacknowledged) red-flag alerts; None: none."""
    return most_urgent(row[0] for row in db.execute(
        "SELECT urgency FROM alerts WHERE intake_id = ? AND acknowledged_at IS NULL", (intake_id,)).fetchall())


def worklist_entry(version: int, answers: dict[str, Any], result: dict[str, Any] | None, recorded_at: str,
                   draft_pending: bool, alert_urgency: str | None = None) -> dict[str, Any]:
    """The worklist row of an intake: from its latest version's answers and result, or (version 0,
    result None) from the answers of its draft; ``alert_urgency``: the most urgent tier of its open
    red-flag alerts (``open_alert_tier``)."""
    if result is None:
        status, urgency, months, assessed = "draft", None, None, answers.get("assessment_date")
        items: dict[str, list[str]] = {kind: [] for kind in WORKLIST_KINDS}
    else:
        status = str(result.get("status"))
        urgency = (result.get("physician_consult") or {}).get("urgency")
        months, assessed = result.get("months_since_fusion"), result.get("assessment_date")
        va = next((point for point in result.get("discussion_points") or []
                   if point.get("id") == "va_community_care"), {})
        items = {"missing": [str(item.get("id")) for item in result.get("missing_items") or []],
                 "va_to_do": [str(step) for step in va.get("to_do") or []]}
    return {
        "version": version, "rank": worklist_rank(status, urgency, items["missing"], alert_urgency),
        "status": status, "urgency": urgency, "alert_urgency": alert_urgency,
        "patient_id": answers.get("patient_id"), "months_since_fusion": months,
        "assessment_date": None if assessed is None else str(assessed), "recorded_at": recorded_at,
        "draft_pending": int(bool(draft_pending)), "items": items,
    }


_WORKLIST_COLUMNS = ("version", "rank", "status", "urgency", "patient_id", "months_since_fusion",
                     "assessment_date", "recorded_at", "draft_pending", "alert_urgency")


def _write_worklist(db, intake_id: int, entry: dict[str, Any]) -> None:
    values = [entry[column] for column in _WORKLIST_COLUMNS]
    db.execute(f"INSERT INTO worklist (intake_id, {', '.join(_WORKLIST_COLUMNS)}) VALUES (?{', ?' * len(values)})"
               f" ON CONFLICT(intake_id) DO UPDATE SET "
               + ", ".join(f"{column} = excluded.{column}" for column in _WORKLIST_COLUMNS),
               (intake_id, *values))
    db.execute("DELETE FROM worklist_items WHERE intake_id = ?", (intake_id,))
    db.executemany("INSERT INTO worklist_items (intake_id, kind, position, item) VALUES (?, ?, ?, ?)",
                   [(intake_id, kind, position, item) for kind in WORKLIST_KINDS
                    for position, item in enumerate(entry["items"][kind])])


def expected_worklist(db, intake_id: int) -> dict[str, Any] | None:
    """The worklist row an intake must have, from what is recorded (None: no version, no draft)."""
    latest = db.execute("SELECT version, answers, result, recorded_at FROM versions WHERE intake_id = ?"
                        " ORDER BY version DESC LIMIT 1", (intake_id,)).fetchone()
    draft = db.execute("SELECT answers, saved_at FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone()
    alert = open_alert_tier(db, intake_id)
    if latest is not None:
        return worklist_entry(latest[0], json.loads(latest[1]), json.loads(latest[2]), latest[3], draft is not None,
                              alert)
    if draft is not None:
        return worklist_entry(0, json.loads(draft[0]), None, draft[1], True, alert)
    return None


def stored_worklist(db, intake_id: int) -> dict[str, Any] | None:
    row = db.execute(f"SELECT {', '.join(_WORKLIST_COLUMNS)} FROM worklist WHERE intake_id = ?",
                     (intake_id,)).fetchone()
    if row is None:
        return None
    entry = dict(zip(_WORKLIST_COLUMNS, row))
    entry["items"] = {kind: [] for kind in WORKLIST_KINDS}
    positions: dict[str, list[int]] = {}
    for kind, position, item in db.execute("SELECT kind, position, item FROM worklist_items WHERE intake_id = ?"
                                           " ORDER BY kind, position", (intake_id,)):
        entry["items"].setdefault(kind, []).append(item)
        positions.setdefault(kind, []).append(position)
    for kind, numbers in positions.items():  # positions are 0, 1, 2...: anything else was edited
        if numbers != list(range(len(numbers))):
            entry["items"][kind] = None
    return entry


def _refresh_worklist(db, intake_id: int) -> None:
    entry = expected_worklist(db, intake_id)
    if entry is not None:
        _write_worklist(db, intake_id, entry)


# -- backends ----------------------------------------------------------------------------------
# One Store, two backends: the store's SQL is written once (``?`` placeholders, portable upserts and
# subqueries) and a backend supplies what differs: how a write transaction serialises writers, how a
# consistent snapshot is read, how a new row's id comes back, a JSON field, the engine's own
# integrity check, and its errors as StoreError. SQLite (here) is the embedded default;
# PostgreSQL (triage/store_postgresql.py, psycopg imported only for a postgresql:// store) serves a
# network of clinics.

class SQLiteBackend:
    """The embedded store: one file, WAL, ``BEGIN IMMEDIATE`` so writers queue on the file's lock."""

    name = "sqlite"

    def __init__(self, connection: sqlite3.Connection, location: Path):
        self.db = connection
        self.location = location

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Every SQLite failure becomes one StoreError naming the file (SQLite's messages name
        tables and columns, never bound values, so no answer can leak through them)."""
        try:
            yield
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(f"{self.location}: the store is busy (another triage is writing); "
                                 "try again") from None
            raise StoreError(f"{self.location}: {error}") from None
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.location}: the store is damaged or not a triage store ({error})") from None

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction. BEGIN IMMEDIATE takes the write lock up front, so two writers
        queue (busy timeout) instead of failing half-way with a stale read. ``durable=False``: this
        one commit with ``synchronous=NORMAL`` (WAL: atomic, survives the process; not yet flushed
        to disk), the connection FULL again right after, whatever happens."""
        with self.errors():
            if not durable:
                self.db.execute("PRAGMA synchronous = NORMAL")  # outside any transaction, as it must be
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    try:
                        self.db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise
                self.db.execute("COMMIT")
            finally:
                if not durable:
                    self.db.execute("PRAGMA synchronous = FULL")

    @contextmanager
    def write_unchained(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """A write that adds no audit row (web sessions, token uses); by default not waiting for
        the disk (a session's last activity may be lost in a power cut, never a record)."""
        with self.write(durable=durable) as db:
            yield db

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query inside sees the same store (WAL: writers go on)."""
        with self.errors():
            self.db.execute("BEGIN")
            try:
                yield self.db
            finally:
                self.db.execute("ROLLBACK")

    def stream(self, sql: str, params: tuple | list = ()) -> Iterator[tuple]:
        """Rows one at a time (SQLite's cursor steps through the result)."""
        return self.db.execute(sql, params)

    def insert_id(self, db, sql: str, params: tuple | list) -> int | None:
        """Run an INSERT into a table with an ``id`` key; the new id, or None if nothing was inserted
        (``ON CONFLICT DO NOTHING``)."""
        cursor = db.execute(sql, params)
        return cursor.lastrowid if cursor.rowcount == 1 else None

    @staticmethod
    def json_text(column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    @staticmethod
    def replace_password(db, name: str, password_hash: str, now: str) -> None:
        db.execute("UPDATE users SET password_hash = ?, changed_at = ? WHERE name = ?", (password_hash, now, name))

    def integrity_problems(self, db) -> list[str]:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
        return [] if integrity == ["ok"] else [f"database integrity check failed: {integrity[0]}"]


class Store:
    """An open store. Use ``open_store(path)``; close it (or use ``with``) when done."""

    def __init__(self, backend: "SQLiteBackend", path: Path | str, clock: Callable[[], str] = utc_now):
        self._backend = backend
        self._db = backend.db
        self.path = path  # the file, or a PostgreSQL URL without its password (for messages)
        self._clock = clock
        self.read_only = False  # opened by a reading command where the store cannot be written
        self.audit_keys: AuditKeys | None = None  # the key file that keys its audit chain, when given

    @property
    def backend(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._backend.name

    def ping(self) -> None:
        """A query that touches the schema (GET /readyz): StoreError when the database does not answer."""
        with self._errors():
            self._db.execute("SELECT COUNT(*) FROM audit_head").fetchone()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _errors(self):
        """Every failure of the database becomes one StoreError naming the store (never a bound
        value, so no answer can leak through it)."""
        return self._backend.errors()

    def _write(self, durable: bool = True):
        """One write transaction; writers are serialised, so each sees the latest versions and the
        audit chain stays one line. ``durable=False`` only for a draft (``save_draft``): its commit
        does not wait for the disk."""
        return self._backend.write(durable)

    # -- writing -----------------------------------------------------------------------------

    def record_assessment(self, answers: dict[str, Any], result: dict[str, Any], *, user: str,
                          intake_id: int | None = None, base_version: int | None = None,
                          source: str = "file", draft_revision: int | None = None,
                          language: str | None = None, discard_draft: bool = False,
                          change_patient: bool = False) -> tuple[int, int]:
        """Record an assessment: a new intake (``intake_id=None``) or a new version of one.
        ``language``: the language the patient read while answering (None: not a patient's intake).

        ``answers`` is the answers-contract object the result was computed from, ``result`` the
        result contract (with ruleset and settings). ``base_version`` is the version this change
        is based on (0 = none yet); when another version was recorded since, ``Conflict`` is raised
        and nothing is written. None = amend whatever is latest. A pending draft of the intake is
        removed (it has become this version). ``draft_revision``: the draft revision the person
        checked; if the draft was saved elsewhere since, ``Conflict`` and nothing is written.
        Without ``draft_revision``, a draft in progress is never overwritten silently: ``Conflict``
        unless ``discard_draft`` (its alerts stay). A new version whose patient reference differs
        from the intake's (its latest version's) is refused (``PatientChanged``) unless
        ``change_patient``. Returns (intake_id, version)."""
        settings = result.get("settings", {})
        with self._write() as db:
            now = self._clock()
            if intake_id is None:
                if base_version not in (None, 0):
                    raise Conflict(f"a new intake has no version {base_version}")
                intake_id = self._new_intake(db, now, user)
                latest = 0
            else:
                latest = self._latest_version(db, intake_id)
                if base_version is not None and latest != base_version:
                    raise Conflict(
                        f"intake {intake_id}: version {latest} was recorded since version "
                        f"{base_version}, which this change is based on; nothing was saved. "
                        f"Check `triage show {intake_id}` and amend again")
            row = db.execute("SELECT revision, saved_at, saved_by FROM drafts WHERE intake_id = ?",
                             (intake_id,)).fetchone()
            if draft_revision is not None:
                if row is None or row[0] != draft_revision:
                    raise Conflict(f"intake {intake_id}: the draft was changed elsewhere since revision "
                                   f"{draft_revision}, which this change is based on; nothing was saved")
            elif row is not None and not discard_draft:
                raise Conflict(f"intake {intake_id} has a draft in progress (saved {row[1]} by {row[2]}); nothing was "
                               f"saved and the draft is kept. Finish it (triage intake --resume-intake {intake_id}) "
                               "or give --discard-draft to replace it")
            if not change_patient:
                # The intake's reference: its latest version's, else (only a draft so far) its draft's.
                if latest:
                    before = db.execute("SELECT patient_id FROM versions WHERE intake_id = ? AND version = ?",
                                        (intake_id, latest)).fetchone()[0]
                else:
                    before = json.loads(db.execute("SELECT answers FROM drafts WHERE intake_id = ?",
                                                   (intake_id,)).fetchone()[0]).get("patient_id") if row else None
                if before is not None and answers.get("patient_id") != before:
                    raise PatientChanged(intake_id)
            version = latest + 1
            self._insert_version(db, now, user, intake_id, version, source, answers, result, language)
        return intake_id, version

    def _insert_version(self, db, now: str, user: str, intake_id: int, version: int, source: str,
                        answers: dict[str, Any], result: dict[str, Any], language: str | None = None) -> None:
        """Write one version, its worklist row, its audit row and its red-flag alerts (inside the
        caller's transaction)."""
        settings = result.get("settings", {})
        digest = content_hash(intake_id, version, now, user, source, answers, result, settings, language)
        columns = stored_columns(answers, result)
        db.execute(
            "INSERT INTO versions (intake_id, version, recorded_at, recorded_by, source, answers,"
            " result, status, patient_id, ruleset_name, ruleset_version, settings, content_sha256,"
            " language) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (intake_id, version, now, user, source, json.dumps(answers, ensure_ascii=False),
             json.dumps(result, ensure_ascii=False), columns["status"], columns["patient_id"],
             columns["ruleset_name"], columns["ruleset_version"],
             json.dumps(settings, ensure_ascii=False), digest, language),
        )
        db.execute("DELETE FROM drafts WHERE intake_id = ?", (intake_id,))
        self._audit(db, now, user, CREATED if version == 1 else AMENDED, intake_id, version,
                    {"source": source, "content_sha256": digest})
        alert_tier = self._sync_alerts(db, intake_id, answers, now)[1]
        _write_worklist(db, intake_id, worklist_entry(version, answers, result, now, False, alert_tier))

    def record_batch(self, entries: list[tuple[str, dict[str, Any], dict[str, Any]]], *, user: str,
                     by_patient: bool = False) -> tuple[int, int]:
        """Record many assessments in one transaction (a chunk of `triage batch --save`). Each entry
        is (source, answers, result); ``source`` names the line it came from (``batch:INPUT:LINE``),
        and an entry whose source is already recorded is skipped, so a run stopped half-way and
        started again records each line once. ``by_patient``: a line whose patient reference is
        already in the store becomes a new version of that intake (the latest one with it) instead
        of a new intake. Returns (recorded, skipped)."""
        recorded = skipped = 0
        with self._write() as db:
            now = self._clock()
            for source, answers, result in entries:
                if db.execute("SELECT 1 FROM versions WHERE source = ? LIMIT 1", (source,)).fetchone():
                    skipped += 1
                    continue
                intake_id = None
                if by_patient and answers.get("patient_id"):
                    row = db.execute("SELECT intake_id FROM worklist WHERE patient_id = ? AND version > 0"
                                     " ORDER BY intake_id DESC LIMIT 1", (answers["patient_id"],)).fetchone()
                    intake_id = row[0] if row else None
                if intake_id is None:
                    intake_id, latest = self._new_intake(db, now, user), 0
                else:
                    latest = self._latest_version(db, intake_id)
                    if db.execute("SELECT 1 FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone():
                        # Never a version over a draft in progress (it would be removed): nothing of
                        # this chunk is written; finish or discard the draft, then run again.
                        raise Conflict(f"{source}: intake {intake_id} (the same patient reference) has a draft in "
                                       "progress; nothing of this chunk was saved and the draft is kept. Finish it "
                                       f"(triage intake --resume-intake {intake_id}), then run the batch again")
                self._insert_version(db, now, user, intake_id, latest + 1, source, answers, result)
                recorded += 1
        return recorded, skipped

    def save_draft(self, answers: dict[str, Any], *, user: str, intake_id: int | None = None,
                   expected_revision: int | None = None, durable: bool = True, kiosk: bool = False) -> Draft:
        """Autosave answers in progress. Without ``intake_id`` a new intake is started; with it,
        its draft is replaced (or a draft amending its latest version is started). A draft is saved
        in place: it is work in progress, not a record. ``expected_revision`` (the revision this
        session last saved) guards against two sessions editing one draft: ``Conflict``.

        ``durable=False`` (the web questionnaire's save at each Continue) commits this one
        transaction without waiting for the disk (SQLite: ``synchronous=NORMAL`` in WAL mode;
        PostgreSQL: ``synchronous_commit=off``): it survives the process being killed or restarted
        like any other, but a power cut or an operating-system crash (PostgreSQL: a server crash)
        may lose it until the next durable commit on the store (any recorded version, alert, audit
        row of staff, or draft saved with ``durable=True``) or checkpoint, which writes it to disk
        with everything before it. Atomicity and the audit chain are unaffected (the draft and its
        audit row are one transaction). Recorded versions always wait for the disk."""
        text = json.dumps(answers, ensure_ascii=False)  # prepared before the write lock is taken
        with self._write(durable) as db:
            now = self._clock()
            if intake_id is not None and expected_revision:
                # The usual autosave (a draft at the revision this session showed): one conditional
                # write, no reads first. No row: no such intake, no draft or a conflict (below).
                row = db.execute("UPDATE drafts SET answers = ?, revision = revision + 1, saved_at = ?, saved_by = ?"
                                 " WHERE intake_id = ? AND revision = ? RETURNING revision, base_version",
                                 (text, now, user, intake_id, expected_revision)).fetchone()
                if row is not None:
                    revision, base = row
                    self._audit(db, now, user, DRAFT_SAVED, intake_id, None, {
                        "revision": revision, "draft_sha256": draft_hash(intake_id, answers, revision, base, now, user)})
                    raised, alert_tier = self._sync_alerts(db, intake_id, answers, now, kiosk=kiosk)
                    if base == 0:
                        # An intake with only this draft: its worklist row is the draft's (a draft's
                        # base is always the latest version: recording a version removes the draft).
                        _write_worklist(db, intake_id, worklist_entry(0, answers, None, now, True, alert_tier))
                    elif raised:  # the latest version's row, now with this draft's new alert
                        _refresh_worklist(db, intake_id)
                    return Draft(intake_id, answers, revision, base, now, user)
            if intake_id is None:
                intake_id = self._new_intake(db, now, user)
                row = None
            else:
                self._latest_version(db, intake_id)  # raises when there is no such intake
                row = db.execute("SELECT revision, base_version FROM drafts WHERE intake_id = ?",
                                 (intake_id,)).fetchone()
            if row is None:
                if expected_revision not in (None, 0):
                    raise Conflict(f"intake {intake_id}: its draft was submitted or discarded "
                                   "by someone else; nothing was saved")
                revision, base = 1, self._latest_version(db, intake_id)
                db.execute("INSERT INTO drafts (intake_id, answers, revision, base_version, saved_at,"
                           " saved_by) VALUES (?,?,?,?,?,?)", (intake_id, text, revision, base, now, user))
            else:
                current, base = row
                if expected_revision is not None and current != expected_revision:
                    raise Conflict(f"intake {intake_id}: the draft was saved elsewhere (revision "
                                   f"{current}, this session had {expected_revision}); nothing was saved")
                revision = current + 1
                db.execute("UPDATE drafts SET answers = ?, revision = ?, saved_at = ?, saved_by = ?"
                           " WHERE intake_id = ?", (text, revision, now, user, intake_id))
            self._audit(db, now, user, DRAFT_SAVED, intake_id, None, {
                "revision": revision, "draft_sha256": draft_hash(intake_id, answers, revision, base, now, user)})
            self._sync_alerts(db, intake_id, answers, now, kiosk=kiosk)
            _refresh_worklist(db, intake_id)
        return Draft(intake_id, answers, revision, base, now, user)

    def create_invite(self, code_sha256: str, *, expires_at: str, user: str,
                      answers: dict[str, Any] | None = None, intake_id: int | None = None,
                      language: str = "en") -> Draft:
        """Issue an invitation: the hash of a code that opens one intake's draft until ``expires_at``
        (UTC, ``YYYY-MM-DDTHH:MM:SSZ``) or until a version is recorded. Without ``intake_id`` a new
        intake is started with ``answers`` (e.g. the patient reference) as its draft; with it, the
        intake's draft is kept (or started from its latest version's answers). ``language``: the
        language the web questionnaire opens in. One transaction."""
        with self._write() as db:
            now = self._clock()
            if intake_id is None:
                intake_id = self._new_intake(db, now, user)
            base = self._latest_version(db, intake_id)
            row = db.execute("SELECT revision FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone()
            if row is None:
                start = answers
                if start is None and base:
                    start = json.loads(db.execute("SELECT answers FROM versions WHERE intake_id = ? AND version = ?",
                                                  (intake_id, base)).fetchone()[0])
                db.execute("INSERT INTO drafts (intake_id, answers, revision, base_version, saved_at, saved_by)"
                           " VALUES (?,?,?,?,?,?)",
                           (intake_id, json.dumps(start or {}, ensure_ascii=False), 1, base, now, user))
                self._audit(db, now, user, DRAFT_SAVED, intake_id, None, {
                    "revision": 1, "draft_sha256": draft_hash(intake_id, start or {}, 1, base, now, user)})
            _refresh_worklist(db, intake_id)
            db.execute(f"INSERT INTO invites ({INVITE_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                       (code_sha256, intake_id, base, now, user, expires_at, language))
            self._audit(db, now, user, INVITED, intake_id, None, {
                "expires_at": expires_at, "language": language,
                "invite_sha256": invite_hash(code_sha256, intake_id, base, now, user, expires_at, language)})
            draft = db.execute("SELECT intake_id, answers, revision, base_version, saved_at, saved_by FROM drafts"
                               " WHERE intake_id = ?", (intake_id,)).fetchone()
        return Draft(draft[0], json.loads(draft[1]), draft[2], draft[3], draft[4], draft[5])

    def find_invite(self, code_sha256: str) -> Invite | None:
        """The invitation with this code hash, or None. Expiry is the caller's to judge (its clock)."""
        with self._errors():
            row = self._db.execute(
                "SELECT i.intake_id, i.created_at, i.expires_at, i.base_version,"
                " (SELECT MAX(version) FROM versions v WHERE v.intake_id = i.intake_id), i.language"
                " FROM invites i WHERE i.code_sha256 = ?", (code_sha256,)).fetchone()
        if row is None:
            return None
        intake_id, created_at, expires_at, base, latest, language = row
        return Invite(intake_id, created_at, expires_at, (latest or 0) > base, language)

    # -- staff accounts (the web pages' sign-in) -----------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, *, by: str) -> None:
        """A new staff account; ``StoreError`` if the name is taken (nothing written)."""
        with self._write() as db:
            now = self._clock()
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"{self.path}: a user named {name!r} exists already")
            db.execute("INSERT INTO users (name, role, password_hash, disabled, created_at, created_by, changed_at)"
                       " VALUES (?,?,?,0,?,?,?)", (name, role, password_hash, now, by, now))
            self._audit(db, now, by, USER_ADDED, None, None, {"name": name, "role": role})

    def get_user(self, name: str) -> User | None:
        with self._errors():
            row = self._db.execute("SELECT name, role, password_hash, disabled, created_at, changed_at,"
                                   " session_generation FROM users WHERE name = ?", (name,)).fetchone()
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6]) if row else None

    def users(self) -> list[User]:
        with self._errors():
            rows = self._db.execute("SELECT name, role, password_hash, disabled, created_at, changed_at,"
                                    " session_generation FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def update_user(self, name: str, *, by: str, password_hash: str | None = None,
                    disabled: bool | None = None, role: str | None = None, action: str,
                    keep_session: str | None = None) -> None:
        """Change a password (reset, change, or a re-hash at sign-in), a role, or disable an account;
        audited. Every change but a re-hash (the same password, stored anew) ends every session of
        the account in the same transaction: its generation goes up (a session signed in under an
        older one is refused at its next request) and its session rows go. ``keep_session``: the id
        hash of the session making the change (a user changing their own password) goes on, under
        the new generation."""
        with self._write() as db:
            now = self._clock()
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise IntakeNotFound(name, "no user with this name")
            if password_hash is not None:
                self._backend.replace_password(db, name, password_hash, now)  # PostgreSQL: the narrow path
            if disabled is not None:
                db.execute("UPDATE users SET disabled = ?, changed_at = ? WHERE name = ?", (int(disabled), now, name))
            if role is not None:
                db.execute("UPDATE users SET role = ?, changed_at = ? WHERE name = ?", (role, now, name))
            if action != PASSWORD_REHASHED and (password_hash, disabled, role) != (None, None, None):
                db.execute("UPDATE users SET session_generation = session_generation + 1 WHERE name = ?", (name,))
                keep = keep_session if disabled is not True else None  # a disabled account keeps none
                db.execute("DELETE FROM sessions WHERE user_name = ? AND id_sha256 <> ?", (name, keep or ""))
                if keep:
                    db.execute("UPDATE sessions SET generation = (SELECT session_generation FROM users WHERE name = ?)"
                               " WHERE id_sha256 = ? AND user_name = ?", (name, keep, name))
            self._audit(db, now, by, action, None, None, {"name": name, **({"role": role} if role else {})})

    # -- web sessions (triage/web/sessions.py) ---------------------------------------------------
    # Not audited rows: a session is who is using the pages now, not a record (sign-in, sign-out and
    # ending sessions are audit rows, written by the pages). Written outside the audit chain's lock.

    _SESSION_COLUMNS = ("id_sha256, kind, user_name, intake_id, generation, csrf, data, created_at, last_seen_at,"
                        " expires_at, device, address")

    def create_session(self, session: WebSession) -> None:
        with self._backend.write_unchained() as db:
            db.execute(f"INSERT INTO sessions ({self._SESSION_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (session.id_sha256, session.kind, session.user, session.intake_id, session.generation,
                        session.csrf, json.dumps(session.data, ensure_ascii=False), session.created_at,
                        session.last_seen_at, session.expires_at, session.device[:80], session.address[:64]))

    def get_session(self, id_sha256: str) -> WebSession | None:
        """The session with this id hash, with its account's generation now (one query: this runs
        on every request)."""
        columns = ", ".join(f"s.{c.strip()}" for c in self._SESSION_COLUMNS.split(","))
        with self._errors():
            row = self._db.execute(
                f"SELECT {columns}, CASE WHEN u.disabled = 0 THEN u.session_generation END"
                " FROM sessions s LEFT JOIN users u ON u.name = s.user_name WHERE s.id_sha256 = ?",
                (id_sha256,)).fetchone()
        return _web_session(row) if row else None

    def update_session(self, id_sha256: str, *, last_seen_at: float, csrf: str | None = None,
                       data: dict[str, Any] | None = None, intake_id: int | None = None) -> None:
        """Mark the session seen now; with ``data``, also keep what the pages changed in it."""
        with self._backend.write_unchained() as db:
            if data is None:
                db.execute("UPDATE sessions SET last_seen_at = ? WHERE id_sha256 = ?", (last_seen_at, id_sha256))
            else:
                db.execute("UPDATE sessions SET last_seen_at = ?, csrf = ?, data = ?, intake_id = ? WHERE id_sha256 = ?",
                           (last_seen_at, csrf, json.dumps(data, ensure_ascii=False), intake_id, id_sha256))

    def end_session(self, id_sha256: str) -> bool:
        with self._backend.write_unchained() as db:
            return db.execute("DELETE FROM sessions WHERE id_sha256 = ?", (id_sha256,)).rowcount > 0

    def end_user_sessions(self, user: str, *, keep: str | None = None, only: str | None = None) -> int:
        """End the sessions of this staff account: all of them, all but ``keep`` (an id hash: the
        session asking), or just ``only``. How many ended."""
        with self._backend.write_unchained() as db:
            if only is not None:
                return db.execute("DELETE FROM sessions WHERE user_name = ? AND id_sha256 = ? AND id_sha256 <> ?",
                                  (user, only, keep or "")).rowcount
            return db.execute("DELETE FROM sessions WHERE user_name = ? AND id_sha256 <> ?",
                              (user, keep or "")).rowcount

    def user_sessions(self, user: str) -> list[WebSession]:
        """The sessions of this staff account, most recently seen first (idle or expired ones too,
        until purged: the caller judges with its clock)."""
        with self._errors():
            rows = self._db.execute(f"SELECT {self._SESSION_COLUMNS}, NULL FROM sessions WHERE user_name = ?"
                                    " ORDER BY last_seen_at DESC", (user,)).fetchall()
        return [_web_session(row) for row in rows]

    def purge_sessions(self, now: float, idle_seconds: dict[str, float], limit: int = 500) -> int:
        """Remove up to ``limit`` sessions that are over (past their lifetime, or idle longer than
        their kind allows); called now and then, so the work per call is bounded."""
        with self._backend.write_unchained() as db:
            return db.execute(
                "DELETE FROM sessions WHERE id_sha256 IN (SELECT id_sha256 FROM sessions WHERE expires_at <= ?"
                " OR (kind = 'patient' AND last_seen_at < ?) OR (kind = 'staff' AND last_seen_at < ?) LIMIT ?)",
                (now, now - idle_seconds["patient"], now - idle_seconds["staff"], limit)).rowcount

    def count_sessions(self) -> int:
        with self._errors():
            return self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]

    # -- CDS Hooks tokens used (triage/cds_hooks.py) ----------------------------------------------

    def use_token(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        """Record that the token ``jti`` of ``issuer`` was used; False if it was used before and
        has not expired (a replay). Atomic across processes (the key is unique). Expired entries
        are removed a few at a time. Waits for the disk: a use forgotten in a power cut would let the
        token be replayed."""
        with self._backend.write_unchained(durable=True) as db:
            db.execute("DELETE FROM token_uses WHERE (issuer, jti) IN (SELECT issuer, jti FROM token_uses"
                       " WHERE expires_at < ? LIMIT 20)", (now,))
            return db.execute(
                "INSERT INTO token_uses (issuer, jti, expires_at) VALUES (?,?,?) ON CONFLICT (issuer, jti)"
                " DO UPDATE SET expires_at = excluded.expires_at WHERE token_uses.expires_at < ?",
                (issuer, jti, expires_at, now)).rowcount == 1

    # -- rate-limit counters and known devices (shared by every web process) ------------------

    def count_hit(self, key: str, window_start: int, expires_at: int, *, by: int = 1) -> int:
        """Add ``by`` to the counter of ``key`` in the window starting at ``window_start`` and return
        its new value, in one statement (an upsert): two processes counting at once both count, and
        each sees its own total. Counters past ``expires_at`` are removed on the way."""
        with self._write(durable=False) as db:
            db.execute("DELETE FROM rate_limits WHERE expires_at < ?", (window_start,))
            row = db.execute(
                "INSERT INTO rate_limits (key, window_start, hits, expires_at) VALUES (?,?,?,?)"
                " ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + ?"
                " RETURNING hits", (key, window_start, max(by, 0), expires_at, by)).fetchone()
        return int(row[0])

    def hits(self, key: str, window_starts: tuple[int, ...]) -> dict[int, int]:
        """The counters of ``key`` in these windows (absent: 0)."""
        if not window_starts:
            return {}
        marks = ",".join("?" * len(window_starts))
        with self._errors():
            rows = self._db.execute(f"SELECT window_start, hits FROM rate_limits WHERE key = ? AND window_start IN"
                                    f" ({marks})", (key, *window_starts)).fetchall()
        return {int(start): int(count) for start, count in rows}

    def clear_hits(self, key: str) -> None:
        """Forget every counter of ``key`` (a right password from a known device lifts its lock)."""
        with self._write(durable=False) as db:
            db.execute("DELETE FROM rate_limits WHERE key = ?", (key,))

    def add_known_device(self, token_sha256: str, user: str) -> None:
        with self._write(durable=False) as db:
            now = self._clock()
            db.execute("INSERT INTO known_devices (token_sha256, user_name, created_at, last_used_at) VALUES (?,?,?,?)"
                       " ON CONFLICT (token_sha256) DO UPDATE SET last_used_at = ?", (token_sha256, user, now, now, now))

    def known_device(self, user: str, token_hashes: list[str]) -> str | None:
        """Which of these device-cookie token hashes (if any) is a device ``user`` signed in from."""
        if not token_hashes:
            return None
        marks = ",".join("?" * len(token_hashes))
        with self._errors():
            row = self._db.execute(f"SELECT token_sha256 FROM known_devices WHERE user_name = ? AND token_sha256 IN"
                                   f" ({marks}) ORDER BY token_sha256 LIMIT 1", (user, *token_hashes)).fetchone()
        return row[0] if row else None

    def second_factor(self, name: str) -> tuple[str, int | None] | None:
        """The account's TOTP secret (base32) and the last time step used, or None when it has no
        second factor yet."""
        with self._errors():
            row = self._db.execute("SELECT totp_secret, totp_last_step FROM users WHERE name = ?", (name,)).fetchone()
        return (row[0], row[1]) if row and row[0] else None

    def enroll_second_factor(self, name: str, secret: str, step: int, recovery_sha256: list[str]) -> bool:
        """Keep the account's TOTP secret (its first code, of time step ``step``, used) and its
        recovery codes' hashes; audited. False if it has one already (two enrolments at once)."""
        with self._write() as db:
            now = self._clock()
            done = db.execute("UPDATE users SET totp_secret = ?, totp_last_step = ?, changed_at = ? WHERE name = ?"
                              " AND totp_secret IS NULL", (secret, step, now, name)).rowcount
            if not done:
                return False
            db.execute("DELETE FROM recovery_codes WHERE user_name = ?", (name,))
            db.executemany("INSERT INTO recovery_codes (user_name, code_sha256) VALUES (?, ?)",
                           [(name, digest) for digest in recovery_sha256])
            # The secret's hash (never the secret), so that audit verify can tell a replaced one.
            self._audit(db, now, name, SECOND_FACTOR_ENROLLED, None, None,
                        {"name": name, "recovery_codes": len(recovery_sha256), "secret_sha256": sha256(secret),
                         "recovery_sha256": sha256(canonical(sorted(recovery_sha256)))})
        return True

    def use_totp_step(self, name: str, step: int) -> bool:
        """Accept a code of time step ``step`` once: only a step later than the last one used (one
        statement, so two requests with the same code cannot both pass)."""
        with self._write(durable=False) as db:
            return db.execute("UPDATE users SET totp_last_step = ? WHERE name = ? AND totp_secret IS NOT NULL"
                              " AND (totp_last_step IS NULL OR totp_last_step < ?)", (step, name, step)).rowcount == 1

    def use_recovery_code(self, name: str, code_sha256: str, *, detail: dict[str, Any]) -> int | None:
        """Use one recovery code (once): the number left, or None if it is not one of the account's."""
        with self._write() as db:
            now = self._clock()
            used = db.execute("UPDATE recovery_codes SET used_at = ? WHERE user_name = ? AND code_sha256 = ?"
                              " AND used_at IS NULL", (now, name, code_sha256)).rowcount
            if not used:
                return None
            left = db.execute("SELECT COUNT(*) FROM recovery_codes WHERE user_name = ? AND used_at IS NULL",
                              (name,)).fetchone()[0]
            self._audit(db, now, name, RECOVERY_CODE_USED, None, None, {**detail, "name": name, "left": left})
        return int(left)

    def reset_second_factor(self, name: str, *, by: str) -> None:
        """Remove the account's second factor (a lost phone and codes): it enrols again at its next
        sign-in. Audited."""
        with self._write() as db:
            now = self._clock()
            if not db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise IntakeNotFound(name, "no user with this name")
            db.execute("UPDATE users SET totp_secret = NULL, totp_last_step = NULL, changed_at = ? WHERE name = ?",
                       (now, name))
            db.execute("DELETE FROM recovery_codes WHERE user_name = ?", (name,))
            self._audit(db, now, by, SECOND_FACTOR_RESET, None, None, {"name": name})

    def audit_event(self, action: str, *, user: str, detail: dict[str, Any]) -> None:
        """An audit row about an account rather than an intake (a failed sign-in, a throttle, a lock):
        ``detail`` names who was targeted and from which address, never a password."""
        with self._write() as db:
            self._audit(db, self._clock(), user, action, None, None, detail)

    # -- red-flag alerts for staff -------------------------------------------------------------

    # Alerts are raised here only, by every write that saves answers (``save_draft``, ``_insert_version``
    # for ``record_assessment`` and ``record_batch``), whatever the channel: ``_sync_alerts``.

    red_flag_tiers: dict[str, str] | None = None  # question -> tier; None: the shipped rules file's

    def _tier(self, question: str) -> str | None:
        tiers = self.red_flag_tiers if self.red_flag_tiers is not None else shipped_red_flag_tiers()
        return tiers.get(question)

    def _sync_alerts(self, db, intake_id: int, answers: dict[str, Any], now: str, *,
                     kiosk: bool = False) -> tuple[bool, str | None]:
        """Make the intake's alerts follow answers just saved. A red-flag question answered yes raises
        its alert (at its own tier) unless its alert is open, or was acknowledged with this same yes;
        an alert whose answer is no longer yes stays (open until acknowledged), marked "answer
        changed" (unmarked if it becomes yes again while open); a yes given again after an
        acknowledged alert's answer changed raises a new alert. Returns (whether an alert was raised,
        the most urgent tier of the open alerts): one indexed read of the intake's alerts, so the
        usual autosave stays one write and this read."""
        yes = {question for question, value in answers.items()
               if question.startswith("red_flag_") and value in ("yes", True)}
        latest: dict[str, tuple] = {}  # question -> (id, answer_changed_at, urgency, acknowledged_at)
        for alert_id, question, marked, tier, acknowledged in db.execute(
                "SELECT id, question, answer_changed_at, urgency, acknowledged_at FROM alerts WHERE intake_id = ?"
                " ORDER BY id", (intake_id,)).fetchall():
            latest[question] = (alert_id, marked, tier, acknowledged)
        raised, changed, restored, tiers = False, [], [], []
        for question in sorted(yes | set(latest)):
            alert = latest.get(question)
            if question in yes:
                if alert is None or (alert[3] is not None and alert[1] is not None):
                    tier = self._tier(question)
                    if tier is not None and self._raise_alert(db, intake_id, question, tier, now, kiosk=kiosk):
                        raised = True
                        tiers.append(tier)
                    continue
                if alert[3] is None and alert[1] is not None:
                    restored.append(alert[0])
            elif alert[1] is None:
                changed.append(alert[0])
            if alert[3] is None:
                tiers.append(alert[2])
        for ids, value, flag in ((changed, now, True), (restored, None, False)):
            if ids:
                db.execute(f"UPDATE alerts SET answer_changed_at = ? WHERE id IN ({', '.join('?' * len(ids))})",
                           (value, *ids))
                self._audit(db, now, SYSTEM_USER, ALERT_ANSWER_CHANGED, intake_id, None,
                            {"ids": ids, "changed": flag, "at": value})
        return raised, most_urgent(tiers)

    def _raise_alert(self, db, intake_id: int, question: str, urgency: str, now: str, *, kiosk: bool = False) -> bool:
        alert_id = self._backend.insert_id(
            db, "INSERT INTO alerts (intake_id, question, urgency, raised_at, kiosk) VALUES (?,?,?,?,?)"
            " ON CONFLICT (intake_id, question) WHERE acknowledged_at IS NULL DO NOTHING",
            (intake_id, question, urgency, now, int(kiosk)))
        if alert_id is None:
            return False
        self._audit(db, now, SYSTEM_USER, ALERT_RAISED, intake_id, None,
                    {"alert": alert_id, "alert_sha256": alert_hash(alert_id, intake_id, question, urgency, now)})
        return True

    def open_alerts(self, intake_id: int | None = None) -> list[Alert]:
        """Alerts nobody has acknowledged (of one intake, or all), newest first, with the intake's
        patient reference (latest version, else draft)."""
        with self._errors():
            rows = self._db.execute(
                "SELECT a.intake_id, a.question, a.urgency, a.raised_at,"
                " COALESCE((SELECT v.patient_id FROM versions v WHERE v.intake_id = a.intake_id"
                "           ORDER BY v.version DESC LIMIT 1),"
                f"          (SELECT {self._backend.json_text('d.answers', 'patient_id')} FROM drafts d"
                "           WHERE d.intake_id = a.intake_id)), a.answer_changed_at, a.kiosk"
                " FROM alerts a WHERE a.acknowledged_at IS NULL" + ("" if intake_id is None else " AND a.intake_id = ?")
                + " ORDER BY a.raised_at DESC, a.id DESC", () if intake_id is None else (intake_id,)).fetchall()
        return [Alert(*row[:5], answer_changed_at=row[5], kiosk=bool(row[6])) for row in rows]

    def alert_counts(self) -> dict[str, int]:
        """Open alerts per urgency tier, for the staff pages' banner (counts only)."""
        with self._errors():
            rows = self._db.execute("SELECT urgency, COUNT(DISTINCT intake_id) FROM alerts"
                                    " WHERE acknowledged_at IS NULL GROUP BY urgency").fetchall()
            intakes = self._db.execute("SELECT COUNT(DISTINCT intake_id) FROM alerts"
                                       " WHERE acknowledged_at IS NULL").fetchone()[0]
            latest = self._db.execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()[0]
        return {"intakes": intakes, **{urgency: count for urgency, count in rows}, "latest": latest}

    def acknowledge_alerts(self, intake_id: int, *, user: str) -> int:
        """A clinician has seen this intake's open red-flag alerts: who and when are recorded."""
        with self._write() as db:
            now = self._clock()
            self._latest_version(db, intake_id)  # raises when there is no such intake
            ids = [row[0] for row in db.execute("SELECT id FROM alerts WHERE intake_id = ? AND acknowledged_at IS NULL"
                                                " ORDER BY id", (intake_id,)).fetchall()]
            count = db.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE intake_id = ?"
                               " AND acknowledged_at IS NULL", (now, user, intake_id)).rowcount
            if count:
                self._audit(db, now, user, ACKNOWLEDGED, intake_id, None, {"alerts": count, "ids": ids})
                _refresh_worklist(db, intake_id)  # no longer sorted and filtered by the alert's tier
        return count

    def log_access(self, action: str, *, user: str, intake_id: int | None = None,
                   version: int | None = None, detail: dict[str, Any] | None = None) -> bool:
        """Record that someone viewed, exported or listed intakes (done before showing anything:
        no audit row, no access). A read-only store cannot record it: returns False, and the
        command says so."""
        if self.read_only:
            return False
        with self._write() as db:
            self._audit(db, self._clock(), user, action, intake_id, version, detail or {})
        return True

    def _new_intake(self, db: sqlite3.Connection, now: str, user: str) -> int:
        return self._backend.insert_id(db, "INSERT INTO intakes (created_at, created_by) VALUES (?, ?)", (now, user))

    def _latest_version(self, db: sqlite3.Connection, intake_id: int) -> int:
        row = db.execute("SELECT (SELECT MAX(version) FROM versions WHERE intake_id = i.id) FROM intakes i"
                         " WHERE i.id = ?", (intake_id,)).fetchone()
        if row is None:
            raise IntakeNotFound(intake_id, f"does not exist in {self.path}")
        return row[0] or 0

    def _audit(self, db: sqlite3.Connection, at: str, user: str, action: str, intake_id: int | None,
               version: int | None, detail: dict[str, Any]) -> None:
        _append_audit(db, at, user, action, intake_id, version, detail, self.audit_keys)


    # -- reading -----------------------------------------------------------------------------

    _RECORD_COLUMNS = ("intake_id, version, recorded_at, recorded_by, source, answers, result, status,"
                       " patient_id, ruleset_name, ruleset_version, settings, content_sha256, language")

    def get(self, intake_id: int, version: int | None = None) -> Record:
        """A recorded version (default: the latest)."""
        with self._errors():
            latest = self._latest_version(self._db, intake_id)
            if latest == 0:
                raise IntakeNotFound(intake_id, "has no recorded assessment yet, only a draft in progress (continue it: "
                                     f"triage intake --resume-intake {intake_id})")
            wanted = latest if version is None else version
            row = self._db.execute(f"SELECT {self._RECORD_COLUMNS} FROM versions WHERE intake_id = ? AND version = ?",
                                   (intake_id, wanted)).fetchone()
        if row is None:
            raise IntakeNotFound(intake_id, f"has no version {wanted} (the latest is {latest})")
        try:
            return _record(row)
        except (ValueError, TypeError):  # a hand-edited column; say where, never what it holds
            raise StoreError(f"{self.path}: intake {intake_id} version {wanted} is damaged "
                             "(run `triage audit verify`)") from None

    def history(self, intake_id: int) -> list[VersionInfo]:
        with self._errors():
            self._latest_version(self._db, intake_id)
            rows = self._db.execute("SELECT version, recorded_at, recorded_by, source, status, patient_id FROM versions"
                                    " WHERE intake_id = ? ORDER BY version", (intake_id,)).fetchall()
        return [VersionInfo(*row[:5], patient_changed=index > 0 and row[5] != rows[index - 1][5])
                for index, row in enumerate(rows)]

    def load_draft(self, intake_id: int) -> Draft | None:
        with self._errors():
            self._latest_version(self._db, intake_id)
            row = self._db.execute("SELECT intake_id, answers, revision, base_version, saved_at, saved_by"
                                   " FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone()
        if row is None:
            return None
        return Draft(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5])

    def worklist(self, *, status: str | None = None, missing: str | None = None, urgency: str | None = None,
                 va_to_do: str | bool | None = None, limit: int | None = None,
                 offset: int = 0) -> list[WorklistRow]:
        """The worklist in its order (``worklist_rank``, then intake id): one row per intake, from the
        worklist table only (indexed; no stored result is parsed), filtered and paged."""
        where, params = self._worklist_filter(status, missing, urgency, va_to_do)
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self._errors():
            rows = self._db.execute(
                "SELECT w.intake_id, w.version, w.status, w.patient_id, w.months_since_fusion, w.assessment_date,"
                " w.recorded_at, w.draft_pending, w.urgency, w.alert_urgency FROM worklist w" + where
                + " ORDER BY w.rank, w.intake_id" + page, params).fetchall()
            items: dict[int, dict[str, list[str]]] = {}
            if rows:
                ids = [row[0] for row in rows]
                for start in range(0, len(ids), 500):  # SQLite's limit on bound values
                    chunk = ids[start:start + 500]
                    for intake_id, kind, item in self._db.execute(
                            "SELECT intake_id, kind, item FROM worklist_items WHERE intake_id IN"
                            f" ({', '.join('?' * len(chunk))}) ORDER BY intake_id, kind, position", chunk):
                        items.setdefault(intake_id, {}).setdefault(kind, []).append(item)
        return [WorklistRow(intake_id, version, status_, patient_id, months, assessed,
                            items.get(intake_id, {}).get("missing", []), recorded_at, bool(pending), urgency_,
                            items.get(intake_id, {}).get("va_to_do", []), alert)
                for intake_id, version, status_, patient_id, months, assessed, recorded_at, pending, urgency_, alert
                in rows]

    def worklist_page(self, *, status: str | None = None, missing: str | None = None, urgency: str | None = None,
                      va_to_do: str | bool | None = None, limit: int | None = None,
                      offset: int = 0) -> WorklistPage:
        """A page of the worklist with the number of matching intakes and the counts per status."""
        rows = self.worklist(status=status, missing=missing, urgency=urgency, va_to_do=va_to_do,
                             limit=limit, offset=offset)
        with self._errors():
            shown = self._db.execute(*self._worklist_count(status, missing, urgency, va_to_do)).fetchone()[0]
            counts = dict(self._db.execute("SELECT status, count(*) FROM worklist GROUP BY status").fetchall())
            total = sum(counts.values())
            # Urgent counts the intakes the urgent filter shows: open red-flag alerts too, sent or not.
            counts["urgent"] = self._db.execute("SELECT count(*) FROM worklist WHERE status = 'urgent'"
                                                " OR alert_urgency IS NOT NULL").fetchone()[0]
        return WorklistPage(rows, shown, total, counts)

    @classmethod
    def _worklist_count(cls, status, missing, urgency, va_to_do) -> tuple[str, list]:
        """The query counting the intakes a filter matches. With an item filter it is driven by the
        items' index (each intake lists an item once), not by testing every worklist row."""
        items = [(kind, item) for kind, item in (("missing", missing), ("va_to_do", va_to_do))
                 if item is not None and item is not False]
        if not items:
            where, params = cls._worklist_filter(status, missing, urgency, va_to_do)
            return "SELECT count(*) FROM worklist w" + where, params
        (kind, item), rest = items[0], dict(items[1:])
        where, params = cls._worklist_filter(status, rest.get("missing"), urgency, rest.get("va_to_do"))
        if item is True:  # any item of this kind
            driver, driver_params = "SELECT DISTINCT intake_id FROM worklist_items WHERE kind = ?", [kind]
        else:
            driver, driver_params = "SELECT intake_id FROM worklist_items WHERE kind = ? AND item = ?", [kind, item]
        return (f"SELECT count(*) FROM ({driver}) d JOIN worklist w ON w.intake_id = d.intake_id" + where,
                driver_params + params)

    @staticmethod
    def _worklist_filter(status, missing, urgency, va_to_do) -> tuple[str, list]:
        clauses, params = [], []
        # An open red-flag alert makes an intake urgent at the alert's tier, sent or not.
        if status == "urgent":
            clauses.append("(w.status = 'urgent' OR w.alert_urgency IS NOT NULL)")
        elif status is not None:
            clauses.append("w.status = ?")
            params.append(status)
        if urgency is not None:  # the red-flag tier of an urgent intake, or of an open alert
            clauses.append("((w.status = 'urgent' AND w.urgency = ?) OR w.alert_urgency = ?)")
            params += [urgency, urgency]
        for kind, item in (("missing", missing), ("va_to_do", va_to_do)):
            if item is True:  # any item of this kind (e.g. any VA paperwork to do)
                clauses.append("EXISTS (SELECT 1 FROM worklist_items i WHERE i.kind = ? AND i.intake_id = w.intake_id)")
                params.append(kind)
            elif item is not None and item is not False:
                clauses.append("EXISTS (SELECT 1 FROM worklist_items i WHERE i.kind = ? AND i.item = ?"
                               " AND i.intake_id = w.intake_id)")
                params += [kind, item]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    # -- audit -------------------------------------------------------------------------------

    def verify_audit(self, on_progress: Callable[[int, int], None] | None = None, *,
                     retriage: Callable[[dict, dict, dict], tuple[bool, str | None]] | None = None,
                     keys: AuditKeys | None = None, expect_head: str | None = None) -> AuditReport:
        """Check the store's integrity: the audit hash chain and its head; every recorded version
        against the content hash its audit row holds, and every column stored beside that content
        (status, patient reference, ruleset) against the content itself; each intake against the
        audit row that created it; each draft against the hash of the audit row that last saved it.
        Every value that a view, filter or export shows is one of these, so a change to any of
        them is found and named by its row.

        Streams: rows are read one at a time inside one read transaction (a consistent snapshot),
        so memory stays flat however large the store. ``on_progress(done, total)`` is called now
        and then with the rows checked so far.

        ``retriage(answers, result, settings)`` (triage.retriage.Retriage; the store never imports
        the engine): each version's answers are assessed again and a stored result that differs is
        named, even when its hash, audit row, chain and head were all recomputed. It returns
        (re-triaged?, what differs or None).

        ``keys`` (the key file): each keyed row's MAC is checked, and the chain must end keyed, so
        that a chain recomputed without the key is found. ``expect_head``: a head noted earlier
        (printed by verify, kept outside the store) must still be in the chain: its row, or the
        head, has that hash."""
        checker = _Verifier(on_progress, self._backend, retriage, keys or self.audit_keys, expect_head)
        with self._backend.snapshot() as db:  # one snapshot for every query below; writers go on
            checker.run(db)
        return checker.report()

    # -- backup (SQLite; PostgreSQL backups are pg_dump's: triage/backup.py) ----------------

    def _sqlite_only(self, what: str) -> None:
        if self.backend != "sqlite":
            raise StoreError(f"{self.path}: {what} of a PostgreSQL store is pg_dump's and pg_restore's "
                             "(see triage db backup --help)")

    def copy_into(self, file: Path) -> None:
        """Write a consistent copy of the whole store into ``file`` (an empty file the caller
        created). SQLite's online backup API in one step: it reads one snapshot while writers go on
        (WAL), so the copy is the store as of one moment, its audit chain whole. The copy is one
        self-contained file (rollback journal, not WAL)."""
        self._sqlite_only("a backup")
        with self._errors():
            copy = sqlite3.connect(file, isolation_level=None)
            try:
                self._db.backup(copy)  # pages=-1: every page in one step, so one snapshot
                copy.execute("PRAGMA journal_mode = DELETE")
            finally:
                copy.close()

    def replace_with(self, source: "Store") -> None:
        """Replace this store's whole content with ``source``'s (a checked copy), through SQLite's
        backup API, so the file keeps its permissions and its locks hold for anyone who has it open."""
        self._sqlite_only("a restore")
        with self._errors():
            source._db.backup(self._db)
            self._db.execute("PRAGMA journal_mode = WAL")

    def holds_anything(self) -> bool:
        """Has anything ever been recorded here (an intake, a staff account, an audit row)?"""
        with self._backend.snapshot() as db:
            return any(db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()
                       for table in ("audit", "intakes", "users"))


class _Verifier:
    """The checks of ``Store.verify_audit``, one streamed query at a time (portable SQL)."""

    PROGRESS_EVERY = 5000

    def __init__(self, on_progress: Callable[[int, int], None] | None, backend: SQLiteBackend,
                 retriage: Callable[[dict, dict, dict], tuple[bool, str | None]] | None = None,
                 keys: AuditKeys | None = None, expect_head: str | None = None):
        self.backend = backend
        self.keys = keys
        self.expect_head = expect_head
        self.keyed_rows = 0  # rows whose MAC could not be checked: keyed, and no key file given
        self.retriage = retriage
        self.retriaged = self.not_retriaged = 0
        self.stream = backend.stream  # the long queries, row by row (flat memory on either backend)
        self.problems: list[str] = []
        self.on_progress = on_progress
        self.done = self.total = 0
        self.rows = 0
        self.head_hash = GENESIS
        # Gathered from the audit rows as the chain is read (one pass): each account's last hash, and
        # the hashes of the invitations issued (a count each: two identical rows are two invitations).
        self.account_hashes: dict[str, str] = {}
        self.invite_hashes: dict[str, list[int | None]] = {}

    def report(self) -> AuditReport:
        return AuditReport(self.rows, self.head_hash, self.problems, self.retriaged, self.not_retriaged,
                           self.keyed_rows)

    def tick(self) -> None:
        self.done += 1
        if self.on_progress and self.done % self.PROGRESS_EVERY == 0:
            self.on_progress(self.done, self.total)

    def run(self, db) -> None:
        if self.on_progress:
            self.total = sum(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                             for table in ("audit", "versions", "intakes", "drafts"))
        self.integrity(db)
        self.chain(db)
        self.versions(db)
        self.audited_versions_exist(db)
        self.intakes(db)
        self.drafts(db)
        self.worklist(db)
        self.alerts(db)
        self.accounts(db)
        self.invites(db)
        if self.on_progress:
            self.on_progress(self.total, self.total)

    def integrity(self, db) -> None:
        self.problems += self.backend.integrity_problems(db)

    def chain(self, db) -> None:
        expected_seq, prev, last_seq = 1, GENESIS, 0
        for seq, at, user, action, intake_id, version, detail, prev_hash, digest in self.stream(
                "SELECT seq, at, \"user\", action, intake_id, version, detail, prev_hash, hash FROM audit ORDER BY seq"):
            self.tick()
            self.rows += 1
            if seq != expected_seq:
                self.problems.append(f"audit row {expected_seq}: missing (deleted); the chain jumps to row {seq}")
            elif prev_hash != prev:
                self.problems.append(f"audit row {seq}: does not follow row {seq - 1} (a row before it was changed or removed)")
            elif not self.row_hash_matches(seq, at, user, action, intake_id, version, detail, prev_hash, digest):
                self.problems.append(f"audit row {seq}: its contents were changed after it was written")
            if self.expect_head is not None and digest == self.expect_head:
                self.expect_head = None  # found: the chain still passes through the head noted earlier
            if '"account_sha256"' in detail or '"invite_sha256"' in detail:
                self.gather(seq, intake_id, detail)
            expected_seq, prev, last_seq = seq + 1, digest, seq
        head = db.execute("SELECT seq, hash FROM audit_head").fetchone()
        if (head[0] if head else 0) != last_seq or (head[1] if head else GENESIS) != prev:
            self.problems.append(f"audit log ends at row {last_seq}, but row {head[0] if head else 0} was the last "
                                 "written (rows at the end were removed)")
        self.head_hash = prev
        if self.expect_head is not None and self.expect_head != GENESIS:
            self.problems.append("no audit row has the head given by --expect-head (the chain was rewritten or cut "
                                 "since that head was noted)")
        if self.keys is not None and last_seq and keyed_by(prev) is None:
            self.problems.append(f"audit row {last_seq}: the last row is not keyed, but a key file was given (the "
                                 "chain was written or rewritten without the key)")

    def row_hash_matches(self, seq, at, user, action, intake_id, version, detail, prev_hash, digest) -> bool:
        """A plain row: its SHA-256. A keyed row: its MAC under the key it names (none given: only
        its place in the chain is checked, and counted). With a key file, no plain row may follow a
        keyed one, and keys are used in the file's order."""
        ident, before = keyed_by(digest), keyed_by(prev_hash)
        if ident is None:
            if before is not None and self.keys is not None:
                self.problems.append(f"audit row {seq}: not keyed, after a keyed row (written without the key)")
            return audit_hash(seq, at, user, action, intake_id, version, detail, prev_hash) == digest
        if self.keys is None:
            self.keyed_rows += 1
            return True
        key = self.keys.get(ident)
        if key is None:
            self.problems.append(f"audit row {seq}: keyed with a key the key file does not hold (key id {ident})")
            return True
        if before is not None and self.keys.order(before) > self.keys.order(ident):
            self.problems.append(f"audit row {seq}: keyed with an older key than the row before it")
        return hmac.compare_digest(
            keyed_audit_hash(ident, key, seq, at, user, action, intake_id, version, detail, prev_hash), digest)

    def versions(self, db) -> None:
        """Each version: its content hash, the audit row that recorded it, and the columns stored
        beside the content (what `list`, `show` and the filters read) derived again from it; and,
        from each intake's latest version (read once, here), its worklist row."""
        latest: tuple | None = None  # (intake_id, version, answers, result, recorded_at); None content = unreadable
        for row in self.stream(
                "SELECT v.intake_id, v.version, v.recorded_at, v.recorded_by, v.source, v.answers, v.result,"
                " v.settings, v.content_sha256, v.status, v.patient_id, v.ruleset_name, v.ruleset_version,"
                " v.language,"
                " (SELECT a.detail FROM audit a WHERE a.intake_id = v.intake_id AND a.version = v.version"
                "  AND a.action IN ('created', 'amended') ORDER BY a.seq LIMIT 1)"
                " FROM versions v ORDER BY v.intake_id, v.version"):
            self.tick()
            (intake_id, version, at, user, source, answers_text, result_text, settings_text, stored,
             status, patient_id, ruleset_name, ruleset_version, language, detail) = row
            if latest is not None and latest[0] != intake_id:
                self.worklist_row(db, latest)
            latest = (intake_id, version, None, None, at)
            where = f"intake {intake_id} version {version}"
            try:
                answers, result = json.loads(answers_text), json.loads(result_text)
                actual = content_hash(intake_id, version, at, user, source, answers, result, json.loads(settings_text),
                                      language)
                audited = json.loads(detail).get("content_sha256") if detail else None
            except (ValueError, TypeError, AttributeError):
                self.problems.append(f"{where}: its contents are not readable (changed)")
                continue
            if actual != stored or audited != stored:
                self.problems.append(f"{where}: its contents do not match the hash recorded in the audit log (changed)")
                continue
            latest = (intake_id, version, answers, result, at)
            if self.retriage is not None:
                self.retriage_version(where, answers, result, settings_text)
            columns = stored_columns(answers, result)
            for name, value in (("status", status), ("patient_id", patient_id), ("ruleset_name", ruleset_name),
                                ("ruleset_version", ruleset_version)):
                if columns[name] != value:
                    self.problems.append(f"{where}: its {name} column does not match its recorded content (changed)")
        if latest is not None:
            self.worklist_row(db, latest)

    def retriage_version(self, where: str, answers: dict, result: dict, settings_text: str) -> None:
        try:
            settings = json.loads(settings_text)
        except ValueError:
            settings = None
        if not isinstance(settings, dict) or not isinstance(result, dict) or not isinstance(answers, dict):
            done, differs = True, "its recorded answers, result or settings cannot be read"
        else:
            done, differs = self.retriage(answers, result, settings)
        if not done:
            self.not_retriaged += 1
            return
        self.retriaged += 1
        if differs:
            self.problems.append(f"{where}: {differs} (changed)")

    def worklist_row(self, db, latest: tuple) -> None:
        intake_id, version, answers, result, at = latest
        if answers is None:
            return  # its latest version is unreadable or changed: reported above
        pending = db.execute("SELECT 1 FROM drafts WHERE intake_id = ?", (intake_id,)).fetchone() is not None
        if stored_worklist(db, intake_id) != worklist_entry(version, answers, result, at, pending,
                                                            open_alert_tier(db, intake_id)):
            self.problems.append(f"intake {intake_id}: its worklist row does not match its recorded content (changed)")

    def audited_versions_exist(self, db) -> None:
        for seq, intake_id, version in db.execute(
                "SELECT a.seq, a.intake_id, a.version FROM audit a WHERE a.action IN ('created', 'amended')"
                " AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.intake_id = a.intake_id"
                " AND v.version = a.version) ORDER BY a.seq"):
            self.problems.append(f"intake {intake_id} version {version}: recorded in the audit log but missing "
                                 f"from the store (audit row {seq})")

    def intakes(self, db) -> None:
        """Each intake was created by the first audit row naming it (same time, same user); every
        intake the audit log names exists."""
        for intake_id, created_at, created_by, at, user in self.stream(
                "SELECT i.id, i.created_at, i.created_by, a.at, a.\"user\" FROM intakes i LEFT JOIN audit a"
                " ON a.seq = (SELECT MIN(b.seq) FROM audit b WHERE b.intake_id = i.id) ORDER BY i.id"):
            self.tick()
            if at is None:
                self.problems.append(f"intake {intake_id}: no audit row records its creation (added by hand)")
            elif (created_at, created_by) != (at, user):
                self.problems.append(f"intake {intake_id}: its creation time or user does not match the audit log (changed)")
        for (intake_id,) in db.execute(
                "SELECT DISTINCT a.intake_id FROM audit a WHERE a.intake_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.id = a.intake_id) ORDER BY a.intake_id"):
            self.problems.append(f"intake {intake_id}: named in the audit log but missing from the store")

    def worklist(self, db) -> None:
        """Each intake's worklist row (what `list` shows and filters by) equals the row its latest
        version, or its draft, gives; no row or item exists for an intake that is not there."""
        # Intakes with versions were checked with their latest version (``versions``); here, the rest.
        for (intake_id,) in self.stream("SELECT i.id FROM intakes i WHERE NOT EXISTS"
                                       " (SELECT 1 FROM versions v WHERE v.intake_id = i.id) ORDER BY i.id"):
            self.tick()
            try:
                expected = expected_worklist(db, intake_id)
            except (ValueError, TypeError, AttributeError):
                continue  # its version or draft is unreadable: reported by the checks above
            if stored_worklist(db, intake_id) != expected:
                self.problems.append(f"intake {intake_id}: its worklist row does not match its recorded "
                                     "content (changed)")
        for (intake_id,) in db.execute(
                "SELECT intake_id FROM worklist w WHERE NOT EXISTS (SELECT 1 FROM intakes i WHERE i.id = w.intake_id)"
                " UNION SELECT intake_id FROM worklist_items t WHERE NOT EXISTS"
                " (SELECT 1 FROM worklist w WHERE w.intake_id = t.intake_id) ORDER BY 1"):
            self.problems.append(f"intake {intake_id}: has a worklist row or item but no intake (added by hand)")

    def alerts(self, db) -> None:
        """Each red-flag alert staff see: raised by an audit row that holds its hash, and, once
        acknowledged, acknowledged by the audit row naming it (who and when); no audited alert is
        missing. Alerts are few (one per red flag answered yes), so their audit rows are held here."""
        raised: dict[int, tuple[int, str]] = {}
        acknowledged: dict[int, tuple[int, str, str]] = {}
        answer_changed: dict[int, str | None] = {}  # the last change of each alert's mark
        for action, intake_id, at, user, detail in db.execute(
                "SELECT action, intake_id, at, \"user\", detail FROM audit WHERE action IN (?, ?, ?) ORDER BY seq",
                (ALERT_RAISED, ACKNOWLEDGED, ALERT_ANSWER_CHANGED)):
            try:
                data = json.loads(detail)
                if action == ALERT_RAISED:
                    raised[int(data["alert"])] = (intake_id, str(data["alert_sha256"]))
                elif action == ALERT_ANSWER_CHANGED:
                    for alert_id in data["ids"]:
                        answer_changed[int(alert_id)] = data["at"]
                else:
                    for alert_id in data.get("ids", []):
                        acknowledged[int(alert_id)] = (intake_id, at, user)
            except (ValueError, TypeError, KeyError, AttributeError):
                self.problems.append(f"audit row of {action} for intake {intake_id}: not readable (changed)")
        seen = set()
        for alert_id, intake_id, question, urgency, raised_at, acked_at, acked_by, changed_at in self.stream(
                "SELECT id, intake_id, question, urgency, raised_at, acknowledged_at, acknowledged_by,"
                " answer_changed_at FROM alerts ORDER BY id"):
            seen.add(alert_id)
            where = f"red-flag alert {alert_id} (intake {intake_id})"
            audited = raised.get(alert_id)
            if audited is None:
                self.problems.append(f"{where}: no audit row raised it (added or changed by hand)")
            elif audited != (intake_id, alert_hash(alert_id, intake_id, question, urgency, raised_at)):
                self.problems.append(f"{where}: does not match the audit row that raised it (changed)")
            expected = acknowledged.get(alert_id)
            if (acked_at, acked_by) == (None, None):
                if expected is not None:
                    self.problems.append(f"{where}: its acknowledgement was removed")
            elif expected != (intake_id, acked_at, acked_by):
                self.problems.append(f"{where}: its acknowledgement does not match the audit log (changed)")
            if changed_at != answer_changed.get(alert_id):
                self.problems.append(f"{where}: its \"answer changed\" mark does not match the audit log (changed)")
        for alert_id, (intake_id, _) in raised.items():
            if alert_id not in seen:
                self.problems.append(f"red-flag alert {alert_id} (intake {intake_id}): raised in the audit log "
                                     "but missing from the store (removed)")

    def gather(self, seq: int, intake_id: int | None, detail: str) -> None:
        try:
            data = json.loads(detail)
            if "account_sha256" in data:
                self.account_hashes[str(data["name"])] = str(data["account_sha256"])
            if "invite_sha256" in data:
                self.invite_hashes.setdefault(str(data["invite_sha256"]), []).append(intake_id)
        except (ValueError, TypeError, KeyError, AttributeError):
            self.problems.append(f"audit row {seq}: not readable (changed)")

    def accounts(self, db) -> None:
        """Each staff account as the last audit row about it left it (``account_hash``): its role,
        whether it is enabled, its password hash, its second factor; no account that no audit row
        added; no audited account missing. Accounts are few: their hashes are held here."""
        seen = set()
        cursor = db.execute("SELECT * FROM users ORDER BY name")
        names = [column[0] for column in cursor.description]
        for row in cursor.fetchall():
            state = account_columns(dict(zip(names, row)), db)
            name = str(state["name"])
            seen.add(name)
            audited = self.account_hashes.get(name)
            if audited is None:
                self.problems.append(f"staff account {name}: no audit row added it (added by hand)")
            elif audited != account_hash(state):
                self.problems.append(f"staff account {name}: its role, status, password or second factor does not "
                                     "match the audit log (changed)")
        for name in sorted(set(self.account_hashes) - seen):
            self.problems.append(f"staff account {name}: in the audit log but missing from the store (removed)")

    def invites(self, db) -> None:
        """Each invitation (where its code leads, from which version, until when) was issued by an
        audit row holding its hash; none that was issued is missing."""
        left = {digest: list(intakes) for digest, intakes in self.invite_hashes.items()}
        for row in self.stream(f"SELECT {INVITE_COLUMNS} FROM invites ORDER BY intake_id, created_at, code_sha256"):
            intakes = left.get(invite_hash(*row))
            if intakes:
                intakes.pop()
            else:
                self.problems.append(f"invitation to intake {row[1]} (issued {row[3]}): does not match an audit row "
                                     "that issued it (changed or added by hand)")
        for intakes in left.values():
            for intake_id in intakes:
                self.problems.append(f"invitation to intake {intake_id}: issued in the audit log but missing from "
                                     "the store (removed)")

    def drafts(self, db) -> None:
        """The last draft event of an intake decides: after a save (or a seal) its draft must be
        there with that hash; after a recording or a discard there must be none."""
        for intake_id, action, detail, draft in self.stream(
                "SELECT i.id, a.action, a.detail, d.intake_id FROM intakes i"
                " LEFT JOIN audit a ON a.seq = (SELECT MAX(b.seq) FROM audit b WHERE b.intake_id = i.id"
                "  AND b.action IN ('draft_saved', 'draft_sealed', 'draft_discarded', 'created', 'amended'))"
                " LEFT JOIN drafts d ON d.intake_id = i.id ORDER BY i.id"):
            expects_draft = action in (DRAFT_SAVED, DRAFT_SEALED)
            if draft is None and expects_draft:
                self.problems.append(f"intake {intake_id}: its draft is missing (removed by hand)")
            elif draft is not None and not expects_draft:
                self.problems.append(f"intake {intake_id}: has a draft that no audit row saved (added by hand)")
            elif draft is not None:
                row = db.execute("SELECT answers, revision, base_version, saved_at, saved_by FROM drafts"
                                 " WHERE intake_id = ?", (intake_id,)).fetchone()
                try:
                    actual = draft_hash(intake_id, json.loads(row[0]), row[1], row[2], row[3], row[4])
                    sealed = json.loads(detail).get("draft_sha256")
                except (ValueError, TypeError, AttributeError):
                    actual, sealed = "", None
                if actual != sealed:
                    self.problems.append(f"intake {intake_id}: its draft does not match the hash recorded in the "
                                         "audit log (changed)")
        for (intake_id,) in db.execute("SELECT d.intake_id FROM drafts d WHERE NOT EXISTS"
                                       " (SELECT 1 FROM intakes i WHERE i.id = d.intake_id)"):
            self.problems.append(f"intake {intake_id}: has a draft but no intake (added by hand)")


def stored_columns(answers: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The columns stored beside a version's content, derived from it: written by
    ``record_assessment`` and checked by ``verify_audit`` with this one function."""
    ruleset = result.get("ruleset") or {}
    return {
        "status": str(result.get("status")),
        "patient_id": answers.get("patient_id"),
        "ruleset_name": str(ruleset.get("name", "")),
        "ruleset_version": str(ruleset.get("version", "")),
    }


def _web_session(row: tuple) -> WebSession:
    return WebSession(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8], row[9],
                      row[10], row[11], row[12])


def _record(row: tuple) -> Record:
    (intake_id, version, recorded_at, recorded_by, source, answers, result, status, patient_id,
     ruleset_name, ruleset_version, settings, digest, language) = row
    return Record(intake_id, version, recorded_at, recorded_by, source, json.loads(answers), json.loads(result),
                  status, patient_id, {"name": ruleset_name, "version": ruleset_version}, json.loads(settings), digest,
                  language)


# -- opening -------------------------------------------------------------------------------------

def is_postgresql_url(location: Path | str | None) -> bool:
    """A store given as ``postgresql://...`` (or ``postgres://...``) lives on a PostgreSQL server."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_store(path: Path | str | None = None, *, clock: Callable[[], str] = utc_now,
               for_reading: bool = False, audit_keys: AuditKeys | None = None) -> Store:
    """Open the store at ``path`` (default: the per-user store), creating it on first use with a
    0700 folder and a 0600 file. Refuses a file that is not a triage store, is damaged, or was
    written by a newer schema.

    ``for_reading`` (list, show, export, audit verify): a store that exists but cannot be written
    (a read-only file system, a read-only copy) is opened read-only instead of refused; its
    ``read_only`` is then true and access is not recorded in its audit log.

    ``audit_keys``: the key file that keys the audit chain (default: TRIAGE_AUDIT_KEY_FILE, if set)."""
    if audit_keys is None:
        audit_keys = audit_keys_from_environment()
    token = _MIGRATION_KEYS.set(audit_keys)  # a migration's audit rows are keyed like any other
    try:
        store = _open_store(path, clock=clock, for_reading=for_reading)
    finally:
        _MIGRATION_KEYS.reset(token)
    store.audit_keys = audit_keys
    return store


def _open_store(path: Path | str | None, *, clock: Callable[[], str], for_reading: bool) -> Store:
    if is_postgresql_url(path):
        try:
            from triage.store_postgresql import open_postgresql_store
        except ImportError:
            raise StoreError("a PostgreSQL store needs the psycopg driver: pip install 'fbss-triage[postgresql]'"
                             ) from None
        return open_postgresql_store(str(path), clock=clock)
    path = Path(path) if path else default_path()
    if path.is_file() and not _writable(path):
        if for_reading:
            return _open_read_only(path, clock)
        raise StoreError(f"{path}: cannot be written (a read-only file system, or no permission); "
                         "nothing was saved")
    _create_private(path)
    try:
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot open the store ({error})") from None
    store = Store(SQLiteBackend(db, path), path, clock)
    try:
        _prepare(db, path)
    except BaseException:
        db.close()
        raise
    _tighten(path)
    return store


def _writable(path: Path) -> bool:
    """Can this process write the store and create its side files? (os.access reports a read-only
    file system even to root.)"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _open_read_only(path: Path, clock: Callable[[], str]) -> Store:
    """SQLite's read-only mode; when even the shared-memory side file cannot be created (a read-only
    file system, where nobody can be writing), the file is read as immutable."""
    from urllib.parse import quote

    last_error = None
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(f"file:{quote(str(path.resolve()))}?{options}", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as error:
            last_error = error
            continue
        try:
            _check_identity(db, path, read_only=True)
        except BaseException:
            db.close()
            raise
        store = Store(SQLiteBackend(db, path), path, clock)
        store.read_only = True
        return store
    raise StoreError(f"{path}: cannot open the read-only store ({last_error})")


def open_copy(path: Path, clock: Callable[[], str] = utc_now) -> Store:
    """Open a backup copy read-only, to check it without changing a byte of it."""
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    return _open_read_only(path, clock)


def _tighten(path: Path) -> None:
    """A store (only once it is known to be one) with wider permissions is made 0600: it holds
    health information. Someone else's file is left alone."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = file.stat()
            if info.st_mode & 0o077 and info.st_uid == os.getuid():
                os.chmod(file, 0o600)
        except OSError:
            pass  # a side file that is not there (yet) needs nothing


def _create_private(path: Path) -> None:
    """Create missing folders 0700 and the file 0600 before SQLite touches it. SQLite gives its
    -wal and -shm files the database file's permissions, so they are 0600 too."""
    try:
        missing = [parent for parent in reversed(path.parents) if not parent.exists()]
        for folder in missing:
            folder.mkdir(mode=0o700)
            os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
        if path.is_dir():
            raise StoreError(f"{path}: is a folder; give the path of a store file (e.g. {path / DB_NAME})")
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(descriptor)
    except FileExistsError:
        pass  # another process created it between our check and our open: fine
    except OSError as error:
        raise StoreError(f"{path}: cannot create the store ({(error.strerror or str(error)).lower()})") from None


def _check_identity(db: sqlite3.Connection, path: Path, *, read_only: bool = False) -> int:
    """Refuse a file that is not a triage store of a schema this version reads; return its schema."""
    def refuse(message: str) -> StoreError:
        return StoreError(f"{path}: {message}")

    try:
        application_id = db.execute("PRAGMA application_id").fetchone()[0]
        schema = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError:
        raise refuse("is not a triage store (not an SQLite database, or damaged)") from None
    if application_id != APPLICATION_ID and (application_id != 0 or tables):
        raise refuse("is an SQLite database of another program, not a triage store")
    if schema > SCHEMA_VERSION:
        raise refuse(f"was written by a newer version of triage (store schema {schema}; this version "
                     f"reads up to {SCHEMA_VERSION}); upgrade triage to use it")
    if read_only and schema < SCHEMA_VERSION:
        raise refuse(f"is read-only and was written by an older version of triage (store schema {schema}); "
                     "open it once where it can be written, so that it is upgraded")
    if read_only and application_id != APPLICATION_ID:
        raise refuse("is read-only and empty; there is nothing to read")
    return schema


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    def refuse(message: str) -> StoreError:
        return StoreError(f"{path}: {message}")

    schema = _check_identity(db, path)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        if db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise refuse("cannot use write-ahead logging here (is the folder on a network drive?)")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
        if schema < SCHEMA_VERSION:
            _migrate(db)
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise refuse("the store is busy (another triage is writing); try again") from None
        raise refuse(f"cannot be opened ({error})") from None
    except sqlite3.DatabaseError as error:
        raise refuse(f"is damaged ({error})") from None


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        schema = db.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        for step in range(schema, SCHEMA_VERSION):
            for statement in _statements(MIGRATIONS[step]):
                db.execute(statement)
        # The Python steps after all the SQL: they run today's code, which writes today's tables.
        for step in range(schema + 1, SCHEMA_VERSION + 1):
            if step in _MIGRATION_STEPS:
                _MIGRATION_STEPS[step](db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _seal_drafts(db: sqlite3.Connection) -> None:
    """Schema 2: drafts saved before drafts were hashed are sealed as found, one audit row each, so
    that from now on any change to them is detected (what happened to them before cannot be)."""
    now = utc_now()
    for intake_id, answers, revision, base, saved_at, saved_by in db.execute(
            "SELECT intake_id, answers, revision, base_version, saved_at, saved_by FROM drafts ORDER BY intake_id"
    ).fetchall():
        digest = draft_hash(intake_id, json.loads(answers), revision, base, saved_at, saved_by)
        _append_audit(db, now, MIGRATION_USER, DRAFT_SEALED, intake_id, None,
                      {"revision": revision, "draft_sha256": digest})


# Python steps that a migration needs besides its SQL, by the schema version they bring a store to.
def _fill_worklist(db: sqlite3.Connection) -> None:
    """Schema 6: a worklist row for every intake, from its latest version (or its draft)."""
    for (intake_id,) in db.execute("SELECT id FROM intakes ORDER BY id").fetchall():
        _refresh_worklist(db, intake_id)


def _seal_accounts_and_invites(db) -> None:
    """Schema 8 (either backend): each account and invitation found in the store gets an audit row
    with its hash, so that from now on a change to it is found (what happened before cannot be)."""
    now = utc_now()
    for (name,) in db.execute("SELECT name FROM users ORDER BY name").fetchall():
        _append_audit(db, now, MIGRATION_USER, ACCOUNT_SEALED, None, None, {"name": name})  # hash added there
    for row in db.execute(f"SELECT {INVITE_COLUMNS} FROM invites ORDER BY created_at, code_sha256").fetchall():
        _append_audit(db, now, MIGRATION_USER, INVITE_SEALED, row[1], None, {"invite_sha256": invite_hash(*row)})




def _raise_stored_red_flags(db, insert_id: Callable | None = None) -> None:
    """Schema 12: alerts are raised when answers are saved, drafts included; a draft saved before with
    a red flag answered yes (a terminal intake, stopped or interrupted) raises its alert now, and
    every intake with an open alert gets its worklist row again (sorted by the alert's tier)."""
    now = utc_now()
    store = Store.__new__(Store)  # only its alert methods, on this connection (inside the migration)
    store._backend = _MigrationBackend(insert_id)
    store._clock = lambda: now
    store.red_flag_tiers = None
    store.audit_keys = _MIGRATION_KEYS.get()  # its audit rows are keyed like the migration's others
    for intake_id, answers in db.execute("SELECT intake_id, answers FROM drafts ORDER BY intake_id").fetchall():
        try:
            parsed = json.loads(answers)
        except ValueError:
            continue  # a damaged draft: audit verify names it
        if isinstance(parsed, dict):
            store._sync_alerts(db, intake_id, parsed, now)
    for (intake_id,) in db.execute("SELECT DISTINCT intake_id FROM alerts ORDER BY intake_id").fetchall():
        _refresh_worklist(db, intake_id)


class _MigrationBackend:
    """What ``Store._raise_alert`` needs of a backend during a migration: a new alert's id."""

    def __init__(self, insert_id: Callable | None):
        self._insert_id = insert_id  # the PostgreSQL backend's; None: SQLite's

    def insert_id(self, db, sql: str, params: tuple | list) -> int | None:
        if self._insert_id is not None:
            return self._insert_id(db, sql, params)
        return SQLiteBackend.insert_id(self, db, sql, params)  # type: ignore[arg-type]


_MIGRATION_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {
    2: _seal_drafts, 6: _fill_worklist, 11: _seal_accounts_and_invites, 12: _raise_stored_red_flags}


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction first)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
