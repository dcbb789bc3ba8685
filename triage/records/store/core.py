"""The ``Store``: every read and write of intakes, versions, drafts, invitations, accounts, web
sessions and alerts, in one set of portable SQL statements. A backend (triage/records/store/backend.py)
supplies the few things that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Callable

from triage.core.errors import Conflict, IntakeNotFound, PatientChanged, SecondFactorUnavailable, StoreError
import triage.records.store.access_log as access_log
import triage.records.store.alert_pages as alert_pages
import triage.records.store.counts as counts
import triage.records.store.otp_keys as otp_keys
from triage.records.store.audit import (INVITE_COLUMNS, AuditKeys, alert_hash, canonical, content_hash, draft_hash, invite_hash,
                                sha256, _append_audit)
from triage.records.store.backend import Backend
from triage.records.store.model import (ACKNOWLEDGED, ALERT_ANSWER_CHANGED, ALERT_RAISED, AMENDED, BULK_ACKNOWLEDGED, CREATED,
                                DRAFT_SAVED, INVITED, MIGRATION_USER, PASSWORD_REHASHED, RECOVERY_CODE_USED, SECOND_FACTOR_ENROLLED,
                                SECOND_FACTOR_RESET, SECOND_FACTOR_SEALED, SYSTEM_USER, USER_ADDED, Alert, AlertPage, AuditReport, Draft, Invite, Record,
                                User, VersionInfo, WebSession, WorklistPage, WorklistRow, stored_columns, utc_now,
                                _record, _web_session)
from triage.records.store.requests import RecordRequests
from triage.records.store.files import RecordFiles
from triage.records.store.verify import _Verifier
from triage.records.store.worklist import most_urgent, worklist_entry, _refresh_worklist, _write_worklist


def shipped_red_flag_tiers() -> dict[str, str]:
    """Each red-flag question's urgency tier, from the shipped rules file (loaded on the first red
    flag answered yes: a store that never sees one never reads it)."""
    from triage.core.ruleset import shipped_red_flag_tiers as tiers

    return tiers()


class Store(RecordRequests, RecordFiles):
    """An open store. Use ``open_store(path)``; close it (or use ``with``) when done."""

    def __init__(self, backend: Backend, path: Path | str, clock: Callable[[], str] = utc_now):
        self._backend = backend
        self._db = backend.db
        self.path = path  # the file, or a PostgreSQL URL without its password (for messages)
        self._clock = clock
        self.read_only = False  # opened by a reading command where the store cannot be written
        self.audit_keys: AuditKeys | None = None  # the key file that keys its audit chain, when given

    def today(self) -> str:
        """The date (UTC, YYYY-MM-DD) by the store's clock: what a draft is measured to until assessed."""
        return self._clock()[:10]

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
                               f"saved and the draft is counts. Finish it (triage intake --resume-intake {intake_id}) "
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
                        answers: dict[str, Any], result: dict[str, Any], language: str | None = None, *,
                        backlog: bool = False) -> None:
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
        _, alert_tier, alert_backlog, _ = self._sync_alerts(db, intake_id, answers, now, backlog=backlog)
        _write_worklist(db, intake_id, worklist_entry(version, answers, result, now, False, alert_tier, alert_backlog))

    def record_batch(self, entries: list[tuple[str, dict[str, Any], dict[str, Any]]], *, user: str,
                     by_patient: bool = False, backlog_before: str | None = None) -> tuple[int, int]:
        """Record many assessments in one transaction (a chunk of `triage batch --save`). Each entry
        is (source, answers, result); ``source`` names the line's content (``batch:KEY``,
        ``triage.channels.batch.line_key``), and an entry whose source is already recorded is skipped, so a
        rerun, a split or a merged input records each line once. ``by_patient``: a line whose patient
        reference is already in the store becomes a new version of that intake (the latest one with
        it) instead of a new intake. ``backlog_before`` (an ISO date): a line assessed before it
        raises its red-flag alerts as a backlog's, listed apart from the live ones (the intake is
        urgent at the top of the worklist either way). Returns (recorded, skipped)."""
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
                                       "progress; nothing of this chunk was saved and the draft is counts. Finish it "
                                       f"(triage intake --resume-intake {intake_id}), then run the batch again")
                assessed = str(result.get("assessment_date") or answers.get("assessment_date") or "")
                backlog = backlog_before is not None and bool(assessed) and assessed < backlog_before
                self._insert_version(db, now, user, intake_id, latest + 1, source, answers, result, backlog=backlog)
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
                    raised, alert_tier, alert_backlog, was = self._sync_alerts(db, intake_id, answers, now,
                                                                               kiosk=kiosk)
                    if base == 0:
                        # An intake with only this draft: its worklist row is the draft's (a draft's
                        # base is always the latest version: recording a version removes the draft),
                        # and the row it replaces was the draft's too, with the alerts found before.
                        _write_worklist(db, intake_id, worklist_entry(0, answers, None, now, True, alert_tier,
                                                                      alert_backlog),
                                        before=worklist_entry(0, {}, None, now, True, *was))
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
                                   " session_generation, alert_sound FROM users WHERE name = ?", (name,)).fetchone()
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5], row[6], bool(row[7])) if row else None

    def users(self) -> list[User]:
        with self._errors():
            rows = self._db.execute("SELECT name, role, password_hash, disabled, created_at, changed_at,"
                                    " session_generation, alert_sound FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], bool(r[7])) for r in rows]

    def set_alert_sound(self, name: str, on: bool) -> None:
        """A member's own choice of a tone for new red flags on the staff pages. Not audited, and not
        in ``ACCOUNT_COLUMNS``: a preference decides nothing about who signs in or sees what, and
        the banner and the title's count show every red flag with or without it. Written outside the
        audit chain's lock, like a session."""
        with self._backend.write_unchained() as db:
            if db.execute("UPDATE users SET alert_sound = ? WHERE name = ?", (int(on), name)).rowcount != 1:
                raise IntakeNotFound(name, "no user with this name")

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
                self._backend.raise_session_generation(db, name)  # PostgreSQL: a narrow function
                keep = keep_session if disabled is not True else None  # a disabled account keeps none
                db.execute("DELETE FROM sessions WHERE user_name = ? AND id_sha256 <> ?", (name, keep or ""))
                if keep:
                    db.execute("UPDATE sessions SET generation = (SELECT session_generation FROM users WHERE name = ?)"
                               " WHERE id_sha256 = ? AND user_name = ?", (name, keep, name))
            self._audit(db, now, by, action, None, None, {"name": name, **({"role": role} if role else {})})

    # -- web sessions (triage/channels/web/sessions.py) ---------------------------------------------------
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

    # -- CDS Hooks tokens used (triage/interop/cds_hooks/trust.py) ---------------------------------------

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
        each sees its own total. Counters past ``expires_at`` are removed on the way. No audit row, so
        no wait behind the writers of records (on PostgreSQL, no lock on the audit chain's head)."""
        with self._backend.write_unchained(durable=False) as db:
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
        """The account's TOTP secret (base32, opened if sealed: otp_keys.py) and the last time step
        used, or None when it has no second factor yet. SecondFactorUnavailable when it is sealed with
        a key this process does not hold (or was altered): never None, so it never passes silently."""
        with self._errors():
            row = self._db.execute("SELECT totp_secret, totp_last_step FROM users WHERE name = ?", (name,)).fetchone()
        return (otp_keys.open_secret(self.audit_keys, name, row[0]), row[1]) if row and row[0] else None

    def second_factor_keys(self) -> dict[str, int]:
        """How the accounts' second factors are stored, for the administrator (`triage users list`):
        ``clear``, ``sealed`` (opens here) and ``unopenable`` (sealed with a key this process does
        not hold, or altered: those accounts cannot sign in here)."""
        with self._errors():
            rows = self._db.execute("SELECT name, totp_secret FROM users WHERE totp_secret IS NOT NULL").fetchall()
        counts = {"clear": 0, "sealed": 0, "unopenable": 0}
        for name, stored in rows:
            if otp_keys.sealed_with(stored) is None:
                counts["clear"] += 1
                continue
            try:
                otp_keys.open_secret(self.audit_keys, name, stored)
                counts["sealed"] += 1
            except SecondFactorUnavailable:
                counts["unopenable"] += 1
        return counts

    def seal_second_factors(self) -> tuple[int, int]:
        """With a key file: seal every clear TOTP secret (kept before the key file was given) and
        re-seal those sealed with an older key, with the file's newest key, in one transaction, one
        audit row each (the account's hash follows its stored secret: audit verify stays clean).
        A secret that cannot be opened is left as it is. Returns (sealed, left unopenable).
        `triage db migrate` calls it (run by the database's owner on PostgreSQL: the application
        role may not change a stored secret)."""
        keys = self.audit_keys
        if keys is None:
            return 0, 0
        sealed = unopenable = 0
        with self._write() as db:
            now = self._clock()
            for name, stored in db.execute("SELECT name, totp_secret FROM users WHERE totp_secret IS NOT NULL"
                                           " ORDER BY name").fetchall():
                try:
                    secret = otp_keys.open_secret(keys, name, stored)
                except SecondFactorUnavailable:
                    unopenable += 1
                    continue
                if not otp_keys.needs_sealing(keys, stored):
                    continue
                # Only the value read: a reset or enrolment meanwhile is never overwritten.
                if db.execute("UPDATE users SET totp_secret = ? WHERE name = ? AND totp_secret = ?",
                              (otp_keys.seal(keys, name, secret), name, stored)).rowcount != 1:
                    continue
                self._audit(db, now, MIGRATION_USER, SECOND_FACTOR_SEALED, None, None,
                            {"name": name, "key": keys.newest[0], "was": otp_keys.sealed_with(stored) or "clear"})
                sealed += 1
        return sealed, unopenable

    def enroll_second_factor(self, name: str, secret: str, step: int, recovery_sha256: list[str]) -> bool:
        """Keep the account's TOTP secret (its first code, of time step ``step``, used) and its
        recovery codes' hashes; audited. False if it has one already (two enrolments at once)."""
        with self._write() as db:
            now = self._clock()
            # Sealed when a key file is given (otp_keys.py): a copy of the store alone gives no codes.
            stored = otp_keys.seal(self.audit_keys, name, secret) if self.audit_keys is not None else secret
            if not self._backend.set_second_factor(db, name, stored, step, now):  # PostgreSQL: a narrow function
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
                     kiosk: bool = False, backlog: bool = False) -> tuple[bool, str | None, bool, tuple]:
        """Make the intake's alerts follow answers just saved. A red-flag question answered yes raises
        its alert (at its own tier) unless its alert is open, or was acknowledged with this same yes;
        an alert whose answer is no longer yes stays (open until acknowledged), marked "answer
        changed" (unmarked if it becomes yes again while open); a yes given again after an
        acknowledged alert's answer changed raises a new alert. ``backlog``: alerts raised now are a
        backlog's (``record_batch``). Returns (whether an alert was raised, the most urgent tier of the
        open alerts, whether all of them are a backlog's, and those two before this save): one indexed
        read of the intake's alerts, so the usual autosave stays one write and this read."""
        yes = {question for question, value in answers.items()
               if question.startswith("red_flag_") and value in ("yes", True)}
        latest: dict[str, tuple] = {}  # question -> (id, answer_changed_at, urgency, acknowledged_at, backlog)
        for alert_id, question, marked, tier, acknowledged, was_backlog in db.execute(
                "SELECT id, question, answer_changed_at, urgency, acknowledged_at, backlog FROM alerts WHERE intake_id = ?"
                " ORDER BY id", (intake_id,)).fetchall():
            latest[question] = (alert_id, marked, tier, acknowledged, was_backlog)
        raised, changed, restored, tiers, kinds = False, [], [], [], []
        was_open = [(alert[2], bool(alert[4])) for alert in latest.values() if alert[3] is None]
        before = (most_urgent(tier for tier, _ in was_open), bool(was_open) and all(kind for _, kind in was_open))
        for question in sorted(yes | set(latest)):
            alert = latest.get(question)
            if question in yes:
                if alert is None or (alert[3] is not None and alert[1] is not None):
                    tier = self._tier(question)
                    if tier is not None and self._raise_alert(db, intake_id, question, tier, now, kiosk=kiosk,
                                                              backlog=backlog):
                        raised = True
                        tiers.append(tier)
                        kinds.append(backlog)
                    continue
                if alert[3] is None and alert[1] is not None:
                    restored.append(alert[0])
            elif alert[1] is None:
                changed.append(alert[0])
            if alert[3] is None:
                tiers.append(alert[2])
                kinds.append(bool(alert[4]))
        for ids, value, flag in ((changed, now, True), (restored, None, False)):
            if ids:
                db.execute(f"UPDATE alerts SET answer_changed_at = ? WHERE id IN ({', '.join('?' * len(ids))})",
                           (value, *ids))
                self._audit(db, now, SYSTEM_USER, ALERT_ANSWER_CHANGED, intake_id, None,
                            {"ids": ids, "changed": flag, "at": value})
        return raised, most_urgent(tiers), bool(kinds) and all(kinds), before

    def _raise_alert(self, db, intake_id: int, question: str, urgency: str, now: str, *, kiosk: bool = False,
                     backlog: bool = False) -> bool:
        alert_id = self._backend.insert_id(
            db, "INSERT INTO alerts (intake_id, question, urgency, raised_at, kiosk, backlog) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (intake_id, question) WHERE acknowledged_at IS NULL DO NOTHING",
            (intake_id, question, urgency, now, int(kiosk), int(backlog)))
        if alert_id is None:
            return False
        detail: dict[str, Any] = {"alert": alert_id,
                                  "alert_sha256": alert_hash(alert_id, intake_id, question, urgency, now)}
        if backlog:
            detail["backlog"] = True
        self._audit(db, now, SYSTEM_USER, ALERT_RAISED, intake_id, None, detail)
        return True

    def open_alerts(self, intake_id: int | None = None) -> list[Alert]:
        """Alerts nobody has acknowledged (of one intake, or all: for the terminal and tests; the
        staff pages read ``open_alert_page``), newest first, with the intake's patient reference
        (latest version, else draft)."""
        with self._errors():
            return self._open_alerts(" AND a.intake_id = ?" if intake_id is not None else "",
                                     () if intake_id is None else (intake_id,))

    def _open_alerts(self, where: str, params: tuple | list) -> list[Alert]:
        rows = self._db.execute(
            "SELECT a.intake_id, a.question, a.urgency, a.raised_at,"
            " COALESCE((SELECT v.patient_id FROM versions v WHERE v.intake_id = a.intake_id"
            "           ORDER BY v.version DESC LIMIT 1),"
            f"          (SELECT {self._backend.json_text('d.answers', 'patient_id')} FROM drafts d"
            "           WHERE d.intake_id = a.intake_id)), a.answer_changed_at, a.kiosk, a.backlog, a.id"
            " FROM alerts a WHERE a.acknowledged_at IS NULL" + where + " ORDER BY a.raised_at DESC, a.id DESC",
            params).fetchall()
        return [Alert(*row[:5], answer_changed_at=row[5], kiosk=bool(row[6]), backlog=bool(row[7]), id=row[8])
                for row in rows]

    def open_alert_page(self, *, backlog: bool = False, after: str | None = None, limit: int = 50) -> AlertPage:
        """One page of the staff alerts list (live, or a backlog's): at most ``limit`` intakes, the most
        urgent first, then newest first, each with all its open alerts; ``after``: the position the
        previous page gave (``AlertPage.next``; ValueError for anything else). Reads one page through
        an index of the open alerts, however many there are (triage/records/store/alert_pages.py)."""
        with self._errors(), self._backend.snapshot() as db:
            intakes, following = alert_pages.page_heads(db, backlog=backlog, after=after, limit=limit)
            alerts: list[Alert] = []
            if intakes:
                found = self._open_alerts(f" AND a.intake_id IN ({', '.join('?' * len(intakes))})", intakes)
                order = {intake_id: place for place, intake_id in enumerate(intakes)}
                alerts = sorted(found, key=lambda alert: order[alert.intake_id])  # stable: newest first within
        return AlertPage(alerts, following)

    def alert_counts(self) -> dict[str, int]:
        """For the staff pages' banner and title (counts only), from the counts kept with the worklist:
        intakes with a live open alert ("intakes"), of them by their most urgent tier, intakes whose
        open alerts are all a backlog's ("backlog"), the newest live alert's id ("latest": the poll
        tells a new one by it) and the newest backlog alert's ("backlog_latest")."""
        with self._errors(), self._backend.snapshot() as db:
            kept = counts.read(db, counts.ALERTS, *(f"{counts.ALERTS}:{tier}" for tier in counts.TIERS),
                               counts.BACKLOG)
            latest = db.execute("SELECT COALESCE(MAX(id), 0) FROM alerts WHERE backlog = 0").fetchone()[0]
            backlog_latest = db.execute("SELECT COALESCE(MAX(id), 0) FROM alerts WHERE backlog = 1"
                                        " AND acknowledged_at IS NULL").fetchone()[0]
        return {"intakes": kept[counts.ALERTS],
                **{tier: kept[f"{counts.ALERTS}:{tier}"] for tier in counts.TIERS if kept[f"{counts.ALERTS}:{tier}"]},
                "backlog": kept[counts.BACKLOG], "latest": latest, "backlog_latest": backlog_latest}

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

    def acknowledge_backlog(self, *, user: str, reason: str, up_to: int) -> int:
        """A clinician acknowledges a backlog's open alerts together (the staff alerts page), giving a
        reason: those of intakes whose open alerts are all a backlog's, with ids up to ``up_to`` (the
        newest the page showed: one recorded since is not acknowledged unseen). Each intake gets its
        own ACKNOWLEDGED audit row (who, when, the reason), as a single acknowledgement does, and one
        BULK_ACKNOWLEDGED row holds the count and the reason. Returns the intakes acknowledged."""
        with self._write() as db:
            now = self._clock()
            by_intake: dict[int, list[int]] = {}
            for alert_id, intake_id in db.execute(
                    "SELECT a.id, a.intake_id FROM alerts a JOIN worklist w ON w.intake_id = a.intake_id"
                    " WHERE a.acknowledged_at IS NULL AND a.backlog = 1 AND a.id <= ? AND w.alert_backlog = 1"
                    " ORDER BY a.intake_id, a.id", (up_to,)).fetchall():
                by_intake.setdefault(intake_id, []).append(alert_id)
            for intake_id, ids in by_intake.items():
                db.execute(f"UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE id IN"
                           f" ({', '.join('?' * len(ids))})", (now, user, *ids))
                self._audit(db, now, user, ACKNOWLEDGED, intake_id, None,
                            {"alerts": len(ids), "ids": ids, "bulk": True, "reason": reason})
                _refresh_worklist(db, intake_id)
            if by_intake:
                self._audit(db, now, user, BULK_ACKNOWLEDGED, None, None,
                            {"intakes": len(by_intake), "alerts": sum(map(len, by_intake.values())),
                             "up_to": up_to, "reason": reason})
        return len(by_intake)

    def log_access(self, action: str, *, user: str, intake_id: int | None = None,
                   version: int | None = None, detail: dict[str, Any] | None = None) -> bool:
        """Record that someone viewed, exported or listed intakes (done before showing anything:
        no audit row, no access). A read-only store cannot record it: returns False, and the
        command says so."""
        if self.read_only:
            return False
        # The access log, not the audit chain: a page view queues only behind page views.
        with self._backend.write_access() as db:
            access_log.append(db, self._clock(), user, action, intake_id, version, detail or {}, self.audit_keys)
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
                 offset: int = 0, after: tuple[int, int] | None = None,
                 before: tuple[int, int] | None = None) -> list[WorklistRow]:
        """The worklist in its order (``worklist_rank``, then intake id): one row per intake, from the
        worklist table only (indexed; no stored result is parsed), filtered and paged. ``after`` /
        ``before``: the (rank, intake id) of a row; only rows after it (or before it, still in the
        worklist's order): a page that starts where the last ended, found through the index however
        deep it is (an offset counts through every row before it)."""
        where, params = self._worklist_filter(status, missing, urgency, va_to_do)
        order = " ORDER BY w.rank, w.intake_id"
        for position, comparison in ((after, ">"), (before, "<")):
            if position is not None:
                where += (" AND " if where else " WHERE ") + (f"(w.rank {comparison} ? OR (w.rank = ?"
                                                              f" AND w.intake_id {comparison} ?))")
                params = [*params, position[0], position[0], position[1]]
        if before is not None:
            order = " ORDER BY w.rank DESC, w.intake_id DESC"
        page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
        with self._errors():
            rows = self._db.execute(
                "SELECT w.intake_id, w.version, w.status, w.patient_id, w.months_since_fusion, w.assessment_date,"
                " w.recorded_at, w.draft_pending, w.urgency, w.alert_urgency, w.rank, w.alert_backlog FROM worklist w"
                + where + order + page, params).fetchall()
            if before is not None:
                rows.reverse()
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
                            items.get(intake_id, {}).get("va_to_do", []), alert, rank, bool(backlog))
                for (intake_id, version, status_, patient_id, months, assessed, recorded_at, pending, urgency_, alert,
                     rank, backlog) in rows]

    COUNT_AT_MOST = 10_000  # several filters at once: counted up to this many ("more than ...")

    def worklist_page(self, *, status: str | None = None, missing: str | None = None, urgency: str | None = None,
                      va_to_do: str | bool | None = None, limit: int | None = None,
                      offset: int = 0, after: tuple[int, int] | None = None,
                      before: tuple[int, int] | None = None) -> WorklistPage:
        """A page of the worklist (``worklist``; ``after``/``before`` for the next or previous page)
        with the number of matching intakes and the counts per status, from the counts kept with the
        worklist (triage/records/store/counts.py), never by counting it: a filter of one criterion has its
        count; several at once are counted up to ``COUNT_AT_MOST`` (``shown_at_least``)."""
        fetch = None if limit is None else limit + 1  # one more: whether another page follows
        rows = self.worklist(status=status, missing=missing, urgency=urgency, va_to_do=va_to_do,
                             limit=fetch, offset=offset, after=after, before=before)
        more = limit is not None and len(rows) > limit
        if more:
            rows = rows[1:] if before is not None else rows[:limit]
        more_after, more_before = (True, more) if before is not None else (more, after is not None or offset > 0)
        key = counts.filter_key(status, missing, urgency, va_to_do)
        with self._errors(), self._backend.snapshot() as db:
            statuses = [f"status:{name}" for name in ("too_early", "records_needed", "ready_for_evaluation",
                                                      "draft", "urgent")]
            numbers = counts.read(db, counts.ALL, counts.URGENT, *statuses, *([key] if key else []))
            at_least = False
            if key is not None:
                shown = numbers[key]
            else:
                sql, params = self._worklist_count(status, missing, urgency, va_to_do)
                sql = sql.replace("SELECT count(*) FROM", "SELECT count(*) FROM (SELECT 1 FROM", 1) \
                    + f" LIMIT {self.COUNT_AT_MOST + 1}) bounded"
                shown = db.execute(sql, params).fetchone()[0]
                if shown > self.COUNT_AT_MOST:
                    shown, at_least = self.COUNT_AT_MOST, True
        per_status = {name.split(":", 1)[1]: numbers[name] for name in statuses if numbers[name]}
        # Urgent counts the intakes the urgent filter shows: open red-flag alerts too, sent or not.
        per_status["urgent"] = numbers[counts.URGENT]
        return WorklistPage(rows, shown, numbers[counts.ALL], per_status, more_after, more_before, at_least)

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

        ``retriage(answers, result, settings)`` (triage.decision.retriage.Retriage; the store never imports
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

    # -- backup (SQLite; PostgreSQL backups are pg_dump's: triage/records/backup.py) ----------------

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
