"""The intake store: creation and permissions, refusal of foreign/damaged/newer files, versions that
are never overwritten, optimistic concurrency, drafts, and the audit log's tamper evidence."""

from __future__ import annotations

import json
import shlex
import sqlite3
import stat
from pathlib import Path

import pytest

from triage.records import store as store_module
from triage.records.store import sqlite as store_sqlite
from triage.records.drafts import Recorded, StoreDraft
from triage.core.errors import Conflict, IntakeNotFound, StoreError
from triage.records.store import SCHEMA_VERSION, open_store

from support.postgres import Raw

ANSWERS = {"patient_id": "PT-SECRET-4711", "assessment_date": "2026-11-24", "fusion_date": "2024-03",
           "pain_score": 7}


def result(status: str = "records_needed", missing: tuple[str, ...] = ("current_mri",), months: int | None = 31) -> dict:
    return {
        "status": status, "missing_items": [{"id": m, "label": m, "reason": "r"} for m in missing],
        "months_since_fusion": months, "assessment_date": "2026-11-24",
        "ruleset": {"name": "fbss-triage", "version": "1.0.0"}, "settings": {"healing_window_months": 6},
    }


@pytest.fixture
def db(tmp_path) -> Path:
    """An SQLite store's file (for what only a file has: permissions, PRAGMAs, damaged pages)."""
    return tmp_path / "store" / "triage.db"


@pytest.fixture
def store_at(store_location):
    """The store on each backend: an SQLite file, or a PostgreSQL database."""
    return store_location


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_on_first_use_private_with_schema_version(db):
    with open_store(db) as store:
        store.record_assessment(ANSWERS, result(), user="alice")
        assert mode(db) == 0o600
        assert mode(db.parent) == 0o700
        for suffix in ("-wal", "-shm"):  # SQLite's side files exist while a connection is open
            side = db.with_name(db.name + suffix)
            assert side.exists() and mode(side) == 0o600, suffix
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


def test_every_connection_is_crash_safe(db):
    """WAL plus synchronous=FULL: an acknowledged commit survives a crash (per connection setting)."""
    with open_store(db) as store:
        connection = store._db
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # 2 = FULL
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_existing_folder_is_left_alone_and_wide_file_tightened(tmp_path):
    tmp_path.chmod(0o755)
    db = tmp_path / "t.db"
    open_store(db).close()
    assert mode(tmp_path) == 0o755  # not ours to change
    db.chmod(0o644)
    open_store(db).close()
    assert mode(db) == 0o600


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert store_module.default_path() == tmp_path / "data" / "fbss-triage" / "triage.db"


@pytest.mark.parametrize("content, message", [
    (b"this is not a database at all, just text" * 100, "is not a triage store"),
    (b"", None),  # an empty file is a new store
])
def test_non_sqlite_file_is_refused(db, content, message):
    db.parent.mkdir(mode=0o700)
    db.write_bytes(content)
    if message is None:
        open_store(db).close()
        return
    db.chmod(0o644)
    with pytest.raises(StoreError, match=message):
        open_store(db)
    assert db.read_bytes() == content and mode(db) == 0o644  # refused means untouched
    assert not db.with_name(db.name + "-wal").exists()


def test_other_programs_database_is_refused(db):
    db.parent.mkdir(mode=0o700)
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE notes (x)")
    other.commit()
    other.close()
    with pytest.raises(StoreError, match="another program"):
        open_store(db)


def test_newer_schema_is_refused(db):
    open_store(db).close()
    newer = sqlite3.connect(db)
    newer.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(StoreError, match="newer version of triage"):
        open_store(db)


def test_damaged_file_is_refused(db):
    with open_store(db) as store:
        for _ in range(30):
            store.record_assessment(ANSWERS, result(), user="alice")
    data = bytearray(db.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # overwrite a page in the middle
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        with open_store(db) as store:
            store.worklist()
            report = store.verify_audit()
            if report.ok:  # damage that SQLite reads past must still fail the integrity check
                pytest.fail("a damaged page went unnoticed")
            raise StoreError(report.problems[0])


def test_amending_creates_versions_and_keeps_every_earlier_one(store_at):
    with open_store(store_at) as store:
        intake, first = store.record_assessment(ANSWERS, result(), user="alice")
        _, second = store.record_assessment({**ANSWERS, "pain_score": 3}, result("ready_for_evaluation", ()),
                                            user="bob", intake_id=intake, base_version=1)
        assert (first, second) == (1, 2)
        assert store.get(intake).version == 2 and store.get(intake).answers["pain_score"] == 3
        assert store.get(intake, 1).answers["pain_score"] == 7 and store.get(intake, 1).recorded_by == "alice"
        assert [v.version for v in store.history(intake)] == [1, 2]
        with pytest.raises(IntakeNotFound):
            store.get(intake, 3)
        with pytest.raises(IntakeNotFound):
            store.get(999)


def test_versions_and_audit_rows_cannot_be_updated_or_deleted(store_at):
    with open_store(store_at) as store:
        store.record_assessment(ANSWERS, result(), user="alice")
    with Raw(store_at) as raw:
        for statement in ("UPDATE versions SET status = 'urgent'", "DELETE FROM versions",
                          "UPDATE audit SET \"user\" = 'mallory'", "DELETE FROM audit"):
            with pytest.raises(Exception, match="append-only") as refused:
                raw.execute(statement)
            assert refused.type.__name__ in ("IntegrityError", "RaiseException"), refused.type


def test_stale_base_version_is_a_conflict_and_writes_nothing(store_at):
    with open_store(store_at) as store:
        intake, _ = store.record_assessment(ANSWERS, result(), user="alice")
        store.record_assessment(ANSWERS, result(), user="bob", intake_id=intake, base_version=1)
        with pytest.raises(Conflict, match="version 2 was recorded since version 1"):
            store.record_assessment(ANSWERS, result("urgent"), user="carol", intake_id=intake, base_version=1)
        assert [v.recorded_by for v in store.history(intake)] == ["alice", "bob"]
        assert store.verify_audit().ok


def test_drafts_autosave_resume_and_become_a_version(store_at):
    with open_store(store_at) as store:
        draft = store.save_draft({"patient_id": "PT-1"}, user="alice")
        assert (draft.revision, draft.base_version) == (1, 0)
        again = store.save_draft({"patient_id": "PT-1", "pain_score": 4}, user="alice",
                                 intake_id=draft.intake_id, expected_revision=1)
        assert again.revision == 2
    with open_store(store_at) as store:  # resume in a new session, by id
        resumed = store.load_draft(draft.intake_id)
        assert resumed.answers == {"patient_id": "PT-1", "pain_score": 4} and resumed.revision == 2
        assert [row.status for row in store.worklist()] == ["draft"]
        with pytest.raises(Conflict):  # another session still thinks it is at revision 1
            store.save_draft({}, user="bob", intake_id=draft.intake_id, expected_revision=1)
        with pytest.raises(IntakeNotFound):
            store.get(draft.intake_id)  # only a draft: nothing recorded yet
        store.record_assessment(resumed.answers, result(), user="alice", intake_id=draft.intake_id,
                                base_version=resumed.base_version, source="intake", draft_revision=resumed.revision)
        assert store.load_draft(draft.intake_id) is None
        assert store.get(draft.intake_id).source == "intake"
        amending = store.save_draft({"pain_score": 2}, user="bob", intake_id=draft.intake_id)
        assert amending.base_version == 1
        assert store.worklist()[0].draft_pending
        assert store.verify_audit().ok


def _traced(store) -> list[str]:
    """The SQL statements the store's connection runs from now on (no bound values)."""
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    return statements


def test_a_draft_saved_not_durable_commits_with_normal_and_everything_else_stays_full(db):
    """The web's save at each Continue waits for the OS, not the disk (synchronous=NORMAL, WAL: it
    survives the process dying; a power cut may lose it). Only that one transaction: the connection is
    FULL again right after, recorded versions and durable drafts are FULL."""
    with open_store(db) as store:
        draft = store.save_draft({"patient_id": "PT-1"}, user="web")
        statements = _traced(store)
        quick = store.save_draft({"patient_id": "PT-1", "pain_score": 4}, user="web", intake_id=draft.intake_id,
                                 expected_revision=1, durable=False)
        assert statements[0] == "PRAGMA synchronous = NORMAL" and statements[1] == "BEGIN IMMEDIATE"
        assert statements[-2:] == ["COMMIT", "PRAGMA synchronous = FULL"]
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL again
        statements.clear()
        store.save_draft({"patient_id": "PT-1", "pain_score": 5}, user="web", intake_id=draft.intake_id,
                         expected_revision=quick.revision)  # durable (the default)
        store.record_assessment({"patient_id": "PT-1", "pain_score": 5}, result(), user="web",
                                intake_id=draft.intake_id, base_version=0, source="web", draft_revision=quick.revision + 1)
        assert not any("synchronous" in statement for statement in statements)
        # A failed save (a conflict) puts FULL back too, and writes nothing.
        store.save_draft({"pain_score": 1}, user="web", intake_id=draft.intake_id)
        with pytest.raises(Conflict):
            store.save_draft({"pain_score": 2}, user="web", intake_id=draft.intake_id, expected_revision=9,
                             durable=False)
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert store.load_draft(draft.intake_id).answers == {"pain_score": 1}
    with open_store(db) as other:  # what the quick save wrote is there for every connection
        assert other.verify_audit().ok


@pytest.mark.parametrize("recorded", [False, True], ids=["draft-only intake", "draft amending a version"])
def test_the_usual_draft_save_is_one_write_without_reads_and_keeps_the_worklist_right(db, recorded):
    with open_store(db) as store:
        if recorded:
            intake, _ = store.record_assessment(ANSWERS, result(), user="alice")
            draft = store.save_draft(dict(ANSWERS), user="web", intake_id=intake)
        else:
            draft = store.save_draft({"patient_id": "PT-1"}, user="web")
        revision = draft.revision
        for score in range(4):
            statements = _traced(store)
            answers = {**draft.answers, "pain_score": score, "assessment_date": f"2026-11-2{score}"}
            revision = store.save_draft(answers, user="web", intake_id=draft.intake_id, expected_revision=revision,
                                        durable=False).revision
            inside = statements[statements.index("BEGIN IMMEDIATE") + 1:statements.index("COMMIT")]
            reads = [s for s in inside if s.lstrip().upper().startswith("SELECT") and "audit_head" not in s]
            # While the write lock is held, only the audit chain's head and the intake's open red-flag
            # alerts (one indexed read: an answer changed from yes marks its alert) are read.
            assert len(reads) == 1 and "FROM alerts WHERE intake_id" in reads[0], reads
            assert inside[0].startswith("UPDATE drafts")
            store._db.set_trace_callback(None)
        assert revision == draft.revision + 4
        row = store.worklist()[0]
        assert (row.version, row.draft_pending) == ((1, True) if recorded else (0, True))
        if not recorded:
            assert row.assessment_date == "2026-11-23"  # the draft's own date, from the last save
        assert store.verify_audit().ok  # the worklist row is what it must be, the chain holds


def test_a_draft_saved_without_waiting_for_the_disk_is_a_draft_like_any_other(store_at):
    """durable=False on each backend (SQLite synchronous=NORMAL, PostgreSQL synchronous_commit=off):
    the same draft, revisions, conflicts, worklist row and audit chain as a durable save."""
    with open_store(store_at) as store:
        draft = store.save_draft({"patient_id": "PT-1"}, user="web")
        quick = store.save_draft({"patient_id": "PT-1", "pain_score": 4}, user="web", intake_id=draft.intake_id,
                                 expected_revision=1, durable=False)
        assert quick.revision == 2
        with pytest.raises(Conflict):
            store.save_draft({"pain_score": 9}, user="web", intake_id=draft.intake_id, expected_revision=1,
                             durable=False)
        with pytest.raises(IntakeNotFound):
            store.save_draft({}, user="web", intake_id=999, expected_revision=1, durable=False)
        store.save_draft({"patient_id": "PT-1", "pain_score": 5}, user="web", intake_id=draft.intake_id,
                         expected_revision=2)  # durable again afterwards
    with open_store(store_at) as other:
        assert other.load_draft(draft.intake_id).answers == {"patient_id": "PT-1", "pain_score": 5}
        assert [row.status for row in other.worklist()] == ["draft"]
        assert other.verify_audit().ok


def test_audit_records_who_did_what_without_answer_values(store_at):
    with open_store(store_at) as store:
        intake, _ = store.record_assessment(ANSWERS, result(), user="alice")
        store.record_assessment(ANSWERS, result(), user="bob", intake_id=intake)
        store.log_access(store_module.VIEWED, user="carol", intake_id=intake, version=2)
        store.log_access(store_module.EXPORTED, user="dave", intake_id=intake, version=2, detail={"format": "fhir"})
    with Raw(store_at) as raw:
        rows = raw.execute("SELECT seq, \"user\", action, intake_id, version, detail FROM audit ORDER BY seq").fetchall()
        accesses = raw.execute("SELECT seq, \"user\", action, intake_id, version, detail FROM access_log"
                               " ORDER BY seq").fetchall()
    # What changes the record is in the audit chain; who looked at it, in the access log (its own chain).
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("alice", "created", 1, 1), ("bob", "amended", 1, 2)]
    assert [(r[1], r[2], r[3], r[4]) for r in accesses] == [("carol", "viewed", 1, 2), ("dave", "exported", 1, 2)]
    dumped = json.dumps(rows + accesses)
    for value in ("PT-SECRET-4711", "2024-03"):
        assert value not in dumped


def _tamper(location, *statements: str) -> None:
    """What someone with the database's own tools could do: drop the guard triggers, then edit."""
    with Raw(location) as raw:
        raw.drop_guards()
        for statement in statements:
            raw.execute(statement)


@pytest.fixture
def audited(store_at) -> Path:
    with open_store(store_at) as store:
        for number in range(3):
            intake, _ = store.record_assessment(ANSWERS, result(), user="alice")
            store.audit_event(store_module.SIGN_IN_FAILED, user="bob", detail={"address": "127.0.0.1"})
            store.log_access(store_module.VIEWED, user="bob", intake_id=intake, version=1)
        assert store.verify_audit().ok
    return store_at


@pytest.mark.parametrize("statements, problem", [
    (["UPDATE access_log SET \"user\" = 'mallory' WHERE seq = 2"], "access log row 2: its content does not match"),
    (["DELETE FROM access_log WHERE seq = 2"], "access log rows 2-2: missing"),
    (["DELETE FROM access_log WHERE seq = 3"], "access log head: row 3 expected"),
])
def test_audit_verify_checks_the_access_log_by_its_own_chain(audited, statements, problem):
    _tamper(audited, *statements)
    with open_store(audited) as store:
        report = store.verify_audit()
    assert not report.ok and any(found.startswith(problem) for found in report.problems), report.problems


@pytest.mark.parametrize("statements, first_problem", [
    (["UPDATE audit SET \"user\" = 'mallory' WHERE seq = 2"], "audit row 2: its contents were changed"),
    (["DELETE FROM audit WHERE seq = 3"], "audit row 3: missing (deleted)"),
    (["DELETE FROM audit WHERE seq = 6"], "audit log ends at row 5"),
    (["UPDATE versions SET answers = '{\"pain_score\": 1}' WHERE intake_id = 2"],
     "intake 2 version 1: its contents do not match"),
    (["UPDATE versions SET result = replace(result, 'records_needed', 'ready_for_evaluation'),"
      " status = 'ready_for_evaluation' WHERE intake_id = 1"], "intake 1 version 1: its contents do not match"),
    (["DELETE FROM versions WHERE intake_id = 3"], "intake 3 version 1: recorded in the audit log but missing"),
])
def test_audit_verify_names_the_first_broken_place(audited, statements, first_problem):
    _tamper(audited, *statements)
    with open_store(audited) as store:
        report = store.verify_audit()
    assert not report.ok
    assert report.problems[0].startswith(first_problem), report.problems


def test_rewritten_row_with_a_recomputed_hash_breaks_the_next_link(audited):
    with Raw(audited) as raw:
        row = raw.execute("SELECT seq, at, action, intake_id, version, detail, prev_hash FROM audit WHERE seq = 2").fetchone()
    forged = store_module.audit_hash(row[0], row[1], "mallory", row[2], row[3], row[4], row[5], row[6])
    _tamper(audited, f"UPDATE audit SET \"user\" = 'mallory', hash = '{forged}' WHERE seq = 2")
    with open_store(audited) as store:
        assert store.verify_audit().problems[0].startswith("audit row 3: does not follow row 2")


def test_busy_store_is_a_clear_error(db, monkeypatch):
    open_store(db).close()
    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_SECONDS", 0.1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with open_store(db) as store:
            store._db.execute("PRAGMA busy_timeout = 100")
            with pytest.raises(StoreError, match="busy"):
                store.record_assessment(ANSWERS, result(), user="alice")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_migrations_are_ordered_and_bring_an_empty_file_to_the_current_schema(db):
    assert len(store_module.MIGRATIONS) == SCHEMA_VERSION  # MIGRATIONS[n]: schema n -> n + 1
    db.parent.mkdir(mode=0o700)
    db.touch(mode=0o600)
    open_store(db).close()
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA application_id").fetchone()[0] == store_module.APPLICATION_ID
    raw.close()


def test_a_hand_broken_record_is_a_store_error_naming_only_where(store_at):
    with open_store(store_at) as store:
        store.record_assessment(ANSWERS, result(), user="alice")
    _tamper(store_at, "UPDATE versions SET result = '{\"status\": PT-SECRET-4711' WHERE intake_id = 1")
    with open_store(store_at) as store:
        with pytest.raises(StoreError, match="intake 1 version 1 is damaged") as caught:
            store.get(1)
        assert "PT-SECRET" not in str(caught.value)
        # The worklist never parses a stored result (it reads its own table); verify names the row.
        assert [row.intake_id for row in store.worklist()] == [1]
        problems = store.verify_audit().problems
        assert problems and all("PT-SECRET" not in problem for problem in problems)
        assert problems[0].startswith("intake 1 version 1: its contents are not readable")


def test_store_draft_for_intake(store_at):
    """The Draft protocol `triage intake` keeps answers through (load/save/where/resume_option/submit),
    on the store's drafts."""
    with open_store(store_at) as store:
        session = StoreDraft(store, "alice")
        session.save({"patient_id": "PT-9"})  # the first save creates the intake
        session.save({"patient_id": "PT-9", "pain_score": 5})
        # The resume command names the store unless it is the per-user default one.
        assert session.resume_option() == f"--resume-intake {session.intake_id} --db {shlex.quote(str(store_at))}"
        assert f"intake {session.intake_id} in" in session.where
        resumed = StoreDraft(store, "bob", session.intake_id)
        assert resumed.load() == {"patient_id": "PT-9", "pain_score": 5}
        resumed.save({"patient_id": "PT-9", "pain_score": 6})
        with pytest.raises(Conflict):  # the first session is behind now: it must not overwrite
            session.save({"patient_id": "PT-9", "pain_score": 1})
        assert resumed.submit({"patient_id": "PT-9", "pain_score": 6}, result()) == Recorded(session.intake_id, 1, store_at)
        assert store.load_draft(session.intake_id) is None and store.get(session.intake_id).source == "intake"
        amending = StoreDraft(store, "carol", session.intake_id)  # recorded: amend it
        assert amending.load() == {"patient_id": "PT-9", "pain_score": 6} and amending.base_version == 1
        amending.save({"patient_id": "PT-9", "pain_score": 2})
        assert amending.submit({"patient_id": "PT-9", "pain_score": 2}, result()) == Recorded(session.intake_id, 2, store_at)
        assert store.verify_audit().ok
