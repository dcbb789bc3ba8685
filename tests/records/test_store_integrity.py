"""`triage audit verify` covers every stored value: whichever column of whichever row is changed by
hand (with the append-only triggers dropped first), verify exits 7 and names the row."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import run_cli
from support.postgres import Raw
from triage.records.store import open_store

RESULT = {
    "status": "urgent", "red_flags": ["red_flag_major_trauma"],
    "missing_items": [{"id": "current_mri", "label": "MRI", "reason": "r"}],
    "months_since_fusion": 31, "assessment_date": "2026-11-24",
    "ruleset": {"name": "fbss-triage", "version": "1.0.0"}, "settings": {"healing_window_months": 6},
}


# An argon2id hash of a password the forger knows (argon2 salts each hash, so every account's differs).
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$4Zt2VQ0yUQ7Fv+2d3mC4kQ"
KNOWN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$Zm9yZ2VkZm9yZ2Vk$q0pRQm4n0lX9Gm1x0WcWzA"


def _result(**changes) -> dict:
    return {**RESULT, **changes}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request, tmp_path_factory):
    """A store with every kind of row: an amended intake, a draft-only intake, a recorded intake
    with an amendment in progress, and access rows; on each backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("template") / "triage.db"
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        path = cluster.new_database()
        request.addfinalizer(lambda: cluster.drop_database(path))
    with open_store(path) as store:
        store.record_assessment({"patient_id": "PT-1", "red_flag_major_trauma": "yes"}, _result(), user="alice")
        store.record_assessment({"patient_id": "PT-1", "red_flag_major_trauma": "no"},
                                _result(status="records_needed", red_flags=[]), user="bob", intake_id=1)
        store.save_draft({"patient_id": "PT-2", "pain_score": 3}, user="carol")
        store.record_assessment({"patient_id": "PT-3"}, _result(status="ready_for_evaluation"), user="dave")
        store.save_draft({"patient_id": "PT-3", "pain_score": 5}, user="erin", intake_id=3)
        store.log_access("listed", user="alice", detail={"rows": 3})
        # Who can sign in, and where a code leads: an account, a disabled one, an invitation.
        store.add_user("coord1", "coordinator", PASSWORD_HASH, by="admin")
        store.add_user("clin1", "clinician", PASSWORD_HASH, by="admin")
        store.add_user("clin2", "clinician", PASSWORD_HASH, by="admin")
        store.update_user("clin2", by="admin", disabled=True, action="user_disabled")
        store.create_invite("c0de" * 16, expires_at="2026-12-31T00:00:00Z", user="alice", intake_id=2)
        # A patient's uploaded page, and one removed (issue 30): every cell of record_files is checked.
        kept = b"%PDF-1.7 kept page"
        store.add_record_file(1, "surgical_report", filename="op.pdf", media_type="application/pdf", data=kept,
                              pages=1, by="patient-web", channel="web")
        removed = store.add_record_file(1, "current_mri", filename="wrong.jpg", media_type="image/jpeg",
                                        data=b"\xff\xd8 wrong photo", pages=1, by="patient-web", channel="web")
        store.remove_record_file(removed.id, by="patient-web")
    assert run_cli("audit", "verify", "--db", str(path)).code == 0
    return path


@pytest.fixture
def copy_of(request, tmp_path):
    """``copy_of(template)``: a copy of the template store to change by hand (a file, or a database)."""
    copies = []

    def copy(template):
        if isinstance(template, str):
            cluster = request.getfixturevalue("postgres_cluster")
            while copies:  # one copy at a time: the one before is done with
                cluster.drop_database(copies.pop())
            copies.append(url := cluster.copy_database(template))
            return url
        path = tmp_path / f"store-{len(copies)}.db"
        shutil.copyfile(template, path)
        copies.append(path)
        return path

    yield copy
    for location in copies:
        if isinstance(location, str):
            request.getfixturevalue("postgres_cluster").drop_database(location)


# Cells that change with no audit row by design: the last one-time-code step an account used moves at
# every sign-in (a forged value can only refuse the next code, never accept one).
NOT_RECORDS = {("users", "totp_last_step")}


def _cells(location) -> list[tuple[str, str, str]]:
    """Every (table, column, row) of the store. (PostgreSQL's triage_store row, its schema version,
    is left out like SQLite's PRAGMA user_version.)"""
    cells = []
    with Raw(location) as raw:
        for table in raw.tables():
            columns = raw.columns(table)
            cells += [(table, column, key) for key in raw.row_keys(table) for column in columns]
    return cells


def _changed(value):
    """A different value of the same type, as a careful forger would write it (valid JSON stays
    valid JSON; a status becomes another real status)."""
    if value is None:
        return "PT-FORGED"
    if isinstance(value, (bytes, memoryview)):  # a file's bytes (record_files.data)
        return bytes(value) + b"forged"
    if isinstance(value, int):
        return value + 1000
    if value == "urgent":
        return "ready_for_evaluation"
    if value in ("records_needed", "ready_for_evaluation"):
        return "urgent"
    try:
        data = json.loads(value)
    except ValueError:
        return value + "x"
    if isinstance(data, dict):
        if "status" in data:
            data["status"] = "ready_for_evaluation" if data["status"] != "ready_for_evaluation" else "urgent"
        else:
            data["pain_score"] = 10 if data.get("pain_score") != 10 else 0
        return json.dumps(data)
    return value + "x"


def test_the_template_has_every_table_the_views_read(template):
    tables = {table for table, _, _ in _cells(template)}
    assert {"intakes", "versions", "drafts", "audit", "audit_head", "record_files"} <= tables


def test_changing_any_stored_value_is_found_by_audit_verify(template, copy_of):
    missed = []
    for table, column, rowid in _cells(template):
        if (table, column) in NOT_RECORDS:
            continue
        path = copy_of(template)
        with Raw(path) as raw:
            raw.drop_guards()
            value = raw.execute(f'SELECT "{column}" FROM {table} WHERE {raw.where_key()}', (rowid,)).fetchone()[0]
            # An empty (NULL) cell gets text, or a number where the column's type refuses text.
            for forged in ([_changed(value), 7] if value is None else [_changed(value)]):
                try:
                    raw.execute(f'UPDATE {table} SET "{column}" = ? WHERE {raw.where_key()}', (forged, rowid))
                    break
                except raw.integrity_error:  # a constraint or type refuses this change: not made this way
                    continue
            else:
                continue
        verified = run_cli("audit", "verify", "--db", str(path))
        if verified.code != 7 or "error: triage audit verify: audit:" not in verified.err:
            missed.append(f"{table}.{column} (row {rowid}, {value!r}): exit {verified.code}")
    assert not missed, missed


@pytest.mark.parametrize("statement, named", [
    ("UPDATE versions SET status = 'ready_for_evaluation' WHERE intake_id = 1 AND version = 1",
     "intake 1 version 1: its status column"),
    ("UPDATE versions SET patient_id = 'PT-OTHER' WHERE intake_id = 3", "intake 3 version 1: its patient_id column"),
    ("UPDATE versions SET ruleset_version = '9.9.9' WHERE intake_id = 3", "intake 3 version 1: its ruleset_version"),
    ("UPDATE intakes SET created_by = 'mallory' WHERE id = 2", "intake 2: its creation time or user"),
    ("INSERT INTO intakes (id, created_at, created_by) VALUES (9, '2026-01-01T00:00:00Z', 'm')",
     "intake 9: no audit row records its creation"),
    ("UPDATE drafts SET answers = '{\"patient_id\": \"PT-2\", \"pain_score\": 9}' WHERE intake_id = 2",
     "intake 2: its draft does not match"),
    ("INSERT INTO drafts VALUES (1, '{}', 1, 2, '2026-01-01T00:00:00Z', 'm')",
     "intake 1: has a draft that no audit row saved"),
    ("DELETE FROM drafts WHERE intake_id = 3", "intake 3: its draft is missing"),
    ("DELETE FROM alerts", "red-flag alert 1 (intake 1): raised in the audit log but missing from the store"),
    ("UPDATE alerts SET acknowledged_at = '2026-01-01T00:00:00Z', acknowledged_by = 'mallory'",
     "red-flag alert 1 (intake 1): its acknowledgement does not match the audit log"),
    ("UPDATE alerts SET urgency = 'soon'", "red-flag alert 1 (intake 1): does not match the audit row that raised it"),
    # Who can sign in, and as what (issue 27): each was missed before accounts were hashed.
    ("UPDATE users SET role = 'clinician' WHERE name = 'coord1'", "staff account coord1: its role, status"),
    ("UPDATE users SET disabled = 0 WHERE name = 'clin2'", "staff account clin2: its role, status"),
    (f"UPDATE users SET password_hash = '{KNOWN_HASH}' WHERE name = 'clin1'", "staff account clin1: its role, status"),
    (f"INSERT INTO users (name, role, password_hash, disabled, created_at, created_by, changed_at)"
     f" VALUES ('mallory', 'clinician', '{KNOWN_HASH}', 0, '2026-01-01T00:00:00Z', 'admin',"
     " '2026-01-01T00:00:00Z')", "staff account mallory: no audit row added it"),
    ("DELETE FROM users WHERE name = 'clin2'", "staff account clin2: in the audit log but missing"),
    ("UPDATE invites SET intake_id = 1", "invitation to intake 1 (issued "),
    ("UPDATE invites SET expires_at = '2099-01-01T00:00:00Z'", "invitation to intake 2 (issued "),
    ("INSERT INTO invites SELECT 'f00d' || code_sha256, intake_id, base_version, created_at, created_by, expires_at,"
     " language FROM invites", "invitation to intake 2 (issued "),
])
def test_audit_verify_names_the_changed_row(template, copy_of, statement, named):
    path = copy_of(template)
    with Raw(path) as raw:
        raw.drop_guards()
        raw.execute(statement)
    verified = run_cli("audit", "verify", "--db", str(path))
    assert verified.code == 7
    assert f"error: triage audit verify: audit: {named}" in verified.err, verified.err


def _schema_1_store_with_a_draft(path: Path) -> None:
    """A store as schema 1 wrote it: a draft whose audit row carries no hash."""
    from triage.records import store as store_module

    raw = sqlite3.connect(path, isolation_level=None)
    for statement in store_module._statements(store_module.MIGRATIONS[0]):
        raw.execute(statement)
    raw.execute(f"PRAGMA application_id = {store_module.APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 1")
    at = "2026-01-02T03:04:05Z"
    raw.execute("INSERT INTO intakes VALUES (1, ?, 'alice')", (at,))
    raw.execute("INSERT INTO drafts VALUES (1, '{\"pain_score\": 4}', 1, 0, ?, 'alice')", (at,))
    detail = store_module.canonical({"revision": 1})
    digest = store_module.audit_hash(1, at, "alice", "draft_saved", 1, None, detail, store_module.GENESIS)
    raw.execute("INSERT INTO audit VALUES (1, ?, 'alice', 'draft_saved', 1, NULL, ?, ?, ?)",
                (at, detail, store_module.GENESIS, digest))
    raw.execute("INSERT INTO audit_head VALUES (1, 1, ?)", (digest,))
    raw.close()


def test_a_schema_1_store_is_migrated_and_its_drafts_sealed_as_found(tmp_path):
    path = tmp_path / "old.db"
    _schema_1_store_with_a_draft(path)
    assert run_cli("audit", "verify", "--db", str(path)).code == 0  # migrated on open, then verified
    with open_store(path) as store:
        assert store.load_draft(1).answers == {"pain_score": 4}
    raw = sqlite3.connect(path, isolation_level=None)
    assert raw.execute("SELECT action, user FROM audit WHERE seq = 2").fetchone() == ("draft_sealed", "triage-migration")
    raw.execute("UPDATE drafts SET answers = '{\"pain_score\": 9}'")
    raw.close()
    verified = run_cli("audit", "verify", "--db", str(path))
    assert verified.code == 7 and "intake 1: its draft does not match" in verified.err


def test_accounts_and_invitations_of_a_schema_7_store_are_sealed_as_found(store_location):
    """Before schema 8 no audit row held an account's or an invitation's hash: upgrading seals them
    as found (one audit row each), and from then on a change is found."""
    from triage.records import store as store_module

    with open_store(store_location) as store:
        store.save_draft({"patient_id": "PT-1"}, user="alice")
    with Raw(store_location) as raw:  # as a schema 7 store held them: no hash in any audit row
        raw.execute("INSERT INTO users (name, role, password_hash, disabled, created_at, created_by, changed_at)"
                    " VALUES ('coord1', 'coordinator', ?, 0, '2026-01-01T00:00:00Z', 'admin',"
                    " '2026-01-01T00:00:00Z')", (PASSWORD_HASH,))
        raw.execute("INSERT INTO invites VALUES (?, 1, 0, '2026-01-01T00:00:00Z', 'alice', '2026-12-31T00:00:00Z',"
                    " 'en')", ("c0de" * 16,))
        raw.undo_scale_schema()
        if raw.postgresql:
            raw.execute("DROP TABLE record_files")  # uploads (schema 15)
            raw.execute("DROP FUNCTION triage_replace_password")  # schema 11's, like the sealing
            raw.execute("DROP FUNCTION triage_enroll_second_factor; DROP FUNCTION triage_end_account_sessions")  # 13
            raw.execute("DROP TABLE record_requests")  # and the records' (schema 14)
            for statement in ("ALTER TABLE alerts DROP COLUMN answer_changed_at", "DROP INDEX alerts_one_open",
                              "DROP INDEX alerts_intake", "ALTER TABLE alerts ADD CONSTRAINT"
                              " alerts_intake_id_question_key UNIQUE (intake_id, question)",
                              "ALTER TABLE worklist DROP COLUMN alert_urgency",  # and schema 12's
                              "ALTER TABLE users DROP COLUMN alert_sound"):  # and 16's
                raw.execute(statement)
            raw.execute("UPDATE triage_store SET schema_version = 10")  # the schema before the sealing's
        else:
            for statement in ("DROP INDEX worklist_alert", "ALTER TABLE worklist DROP COLUMN alert_urgency",
                              "ALTER TABLE alerts DROP COLUMN answer_changed_at",  # schema 12's
                              "DROP TABLE record_requests",  # and 14's (records)
                              "DROP TABLE record_files",  # and 15's (uploads)
                              "ALTER TABLE users DROP COLUMN alert_sound"):  # and 16's (alertsound)
                raw.execute(statement)
            raw.execute("PRAGMA user_version = 10")
    assert run_cli("audit", "verify", "--db", str(store_location)).code == 0  # upgraded on opening, then checked
    with Raw(store_location) as raw:
        sealed = raw.execute("SELECT action, \"user\" FROM audit WHERE action IN ('account_sealed', 'invite_sealed')"
                             " ORDER BY seq").fetchall()
        assert [tuple(row) for row in sealed] == [("account_sealed", store_module.MIGRATION_USER),
                                                  ("invite_sealed", store_module.MIGRATION_USER)]
        raw.execute("UPDATE users SET role = 'clinician'")
    verified = run_cli("audit", "verify", "--db", str(store_location))
    assert verified.code == 7 and "staff account coord1: its role, status" in verified.err


def test_a_recovery_code_added_by_hand_is_found(store_location):
    """An account's one-time recovery codes (the second factor's, when the store has that table) are
    hashed with it: a code's hash inserted by hand would open the account without its phone."""
    with open_store(store_location) as store:
        store.add_user("clin1", "clinician", PASSWORD_HASH, by="admin")
    with Raw(store_location) as raw:  # the table as the second factor's migration makes it
        raw.execute("CREATE TABLE IF NOT EXISTS recovery_codes (user_name TEXT NOT NULL REFERENCES users(name),"
                    " code_sha256 TEXT NOT NULL, used_at TEXT, PRIMARY KEY (user_name, code_sha256))")
    assert run_cli("audit", "verify", "--db", str(store_location)).code == 0  # no codes: the same hash
    with Raw(store_location) as raw:  # codes issued by the store, with an audit row about the account
        raw.execute("INSERT INTO recovery_codes VALUES ('clin1', 'a1', NULL)")
    with open_store(store_location) as store:
        store.update_user("clin1", by="admin", password_hash=PASSWORD_HASH, action="password_reset")
    assert run_cli("audit", "verify", "--db", str(store_location)).code == 0
    with Raw(store_location) as raw:
        raw.execute("INSERT INTO recovery_codes VALUES ('clin1', 'f0rged', NULL)")
    verified = run_cli("audit", "verify", "--db", str(store_location))
    assert verified.code == 7 and "staff account clin1: its role, status, password or second factor" in verified.err
