"""What the store holds and hands out: the audit log's action names, the records, drafts, worklist rows,
invitations, accounts, web sessions and alerts as frozen dataclasses, and the clock and paths every
part of the store shares. Plain data: no SQL here."""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


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
# A clear (or older-key) TOTP secret sealed with the key file's newest key by `triage db migrate`
# (triage/records/store/otp_keys.py); detail: the account and the key id, never the secret.
SECOND_FACTOR_SEALED = "second_factor_sealed"
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
# A clinician acknowledged a backlog's alerts together (the staff alerts page): detail holds the
# count, the reason and the highest alert id; each intake also gets its own ACKNOWLEDGED row.
BULK_ACKNOWLEDGED = "alerts_bulk_acknowledged"


def default_path() -> Path:
    """The per-user store: $XDG_DATA_HOME/fbss-triage/triage.db (default ~/.local/share/...)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_FOLDER / DB_NAME


def current_user() -> str:
    """Who is recording: the OS login name (``--user`` overrides it at the CLI)."""
    from triage.core.safe_text import unsafe_character

    try:
        name = getpass.getuser()  # from LOGNAME/USER first: whatever the environment says
    except Exception:  # no login name in some containers; the uid still says who
        name = ""
    if not name.strip() or len(name) > 100 or unsafe_character(name):
        return f"uid:{os.getuid()}"
    return name


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    rank: int = 0  # its place in the worklist's order (``worklist_rank``): with the intake id, a page's position
    alert_backlog: bool = False  # every open alert it has came from a batch backlog (docs/red-flags.md)


@dataclass(frozen=True)
class WorklistPage:
    """A page of the worklist with the counts the coordinator sees under it."""

    rows: list[WorklistRow]
    shown: int  # intakes matching the filters (all pages), or a lower bound (``shown_at_least``)
    total: int  # intakes in the store
    counts: dict[str, int]  # intakes per status, whatever the filters
    more_after: bool = False  # rows follow this page
    more_before: bool = False  # rows come before this page
    shown_at_least: bool = False  # several filters at once: counted up to ``shown`` only


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
    alert_sound: bool = False  # the member's own choice: a tone on staff pages for each new red flag


@dataclass(frozen=True)
class WebSession:
    """A web session as the store keeps it (triage/channels/web/sessions.py): never the session id itself,
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
    backlog: bool = False  # raised by `batch --save` for a line assessed before its recent window
    id: int = 0


@dataclass(frozen=True)
class AlertPage:
    """One page of the staff alerts list: every open alert of the page's intakes, in page order, and
    the position the next page starts after (None: this is the last)."""

    alerts: list[Alert]
    next: str | None


@dataclass(frozen=True)
class AuditReport:
    rows: int
    head_hash: str
    problems: list[str] = field(default_factory=list)  # the first is the first broken place
    retriaged: int = 0  # versions whose answers were assessed again and gave their recorded decisions
    not_retriaged: int = 0  # versions recorded under a ruleset that is not the one installed
    unchecked_keyed: int = 0  # keyed rows whose MAC was not checked (no key file given)
    access_rows: int = 0  # rows of the access log (who viewed, listed, exported), checked by its own chain

    @property
    def ok(self) -> bool:
        return not self.problems


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
