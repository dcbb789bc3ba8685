"""The SQLite store's schema: ``MIGRATIONS`` (SQL; ``MIGRATIONS[n]`` takes a store from schema n to
n + 1) and ``SCHEMA_VERSION``, which the PostgreSQL backend (triage/records/store/postgresql.py) reaches too.
The Python steps some migrations need are in triage/records/store/migrations.py."""

from __future__ import annotations

import sqlite3


SCHEMA_VERSION = 17
APPLICATION_ID = 0x46425354  # "FBST": marks the file as a triage store (PRAGMA application_id)


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
    # 5: the language the patient read while answering (triage/core/languages.py), recorded with each
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
    # kept across restarts (triage/channels/web/sessions.py): only the SHA-256 of a session id is kept, so the
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
    # lead: nothing for SQLite (one file, one owner). PostgreSQL's 12 -> 13 gives the application role
    # the narrow functions for the staff pages' own account changes (postgresql.MIGRATIONS[12]).
    """
    -- no change
    """,
    # records: 14: the coordinator's record requests (issue 30; triage.records.requests): a missing record item
    # requested (from whom, how, when), then received (naming the version its answers made) or not
    # obtainable (why). A row is changed in place when it is closed, so every audit row about it carries
    # the hash of its state after (``request_hash``) and `audit verify` checks each row against the last.
    """
    CREATE TABLE record_requests (
        id INTEGER PRIMARY KEY,
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        item TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('requested', 'received', 'unobtainable')),
        source TEXT,
        via TEXT,
        requested_at TEXT,
        requested_by TEXT,
        closed_at TEXT,
        closed_by TEXT,
        reason TEXT,
        received_version INTEGER
    ) STRICT;

    CREATE INDEX record_requests_intake ON record_requests(intake_id, item);
    CREATE INDEX record_requests_open ON record_requests(state, requested_at);
    """,
    # uploads: 15: pages of a patient's records (photos, PDFs; issue 30) kept in the store, each added
    # in one transaction with the audit row holding its SHA-256 (triage/records/store/files.py); a removed
    # file keeps its row and loses its bytes.
    """
    CREATE TABLE record_files (
        id INTEGER PRIMARY KEY,
        intake_id INTEGER NOT NULL REFERENCES intakes(id),
        item TEXT NOT NULL CHECK (item IN ('surgical_report', 'current_mri')),
        filename TEXT NOT NULL,
        media_type TEXT NOT NULL CHECK (media_type IN ('application/pdf', 'image/jpeg', 'image/png')),
        size INTEGER NOT NULL CHECK (size > 0),
        sha256 TEXT NOT NULL,
        pages INTEGER NOT NULL CHECK (pages >= 1),
        added_at TEXT NOT NULL,
        added_by TEXT NOT NULL,
        channel TEXT NOT NULL,
        removed_at TEXT,
        removed_by TEXT,
        data BLOB,
        CHECK ((removed_at IS NULL) = (data IS NOT NULL))
    ) STRICT;
    CREATE INDEX record_files_intake ON record_files (intake_id, item);
    """,
    # alertsound: 15 -> 16: a staff member's own choice of a tone for new red flags (off by default).
    # Kept with the account so it follows the person; not hashed by audit verify (ACCOUNT_COLUMNS):
    # it decides nothing about who signs in or sees what.
    """
    ALTER TABLE users ADD COLUMN alert_sound INTEGER NOT NULL DEFAULT 0 CHECK (alert_sound IN (0, 1));
    """,
    # scale: 16 -> 17: staff pages bounded at 100,000 intakes (docs/red-flags.md): counts kept with the
    # worklist (``worklist_counts``, filled by ``_recount``) instead of counting it on every page; a
    # backlog's alerts (``alerts.backlog``, raised by `batch --save` for lines assessed before its
    # recent window) apart from the live ones, and ``worklist.alert_backlog`` when an intake has only
    # those; a partial index of the open alerts in the alerts page's order, and one for the newest
    # live alert (the banner's poll).
    """
    ALTER TABLE alerts ADD COLUMN backlog INTEGER NOT NULL DEFAULT 0 CHECK (backlog IN (0, 1));
    ALTER TABLE worklist ADD COLUMN alert_backlog INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE worklist_counts (
        key TEXT PRIMARY KEY,
        intakes INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX alerts_open_page ON alerts(backlog, urgency, raised_at, id) WHERE acknowledged_at IS NULL;
    CREATE INDEX alerts_latest ON alerts(backlog, id);

    -- Who viewed, listed, exported, signed in or out (triage/records/store/access_log.py): its own hash chain and
    -- head, so that a page view does not take the audit chain's lock.
    CREATE TABLE access_log (
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
    CREATE TABLE access_head (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    ) STRICT;
    CREATE INDEX access_log_intake ON access_log(intake_id);
    CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
    CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
    """,
)


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
