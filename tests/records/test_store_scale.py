"""The store at clinic-network scale: the worklist table (what `list` shows and filters by, stored
when a version is recorded), its order, filters and pages, its migration from older stores, and
`list` reading nothing else."""

from __future__ import annotations

import pytest

from conftest import run_cli
from support.cli import SCRATCH, TRIAGE
from support.postgres import Raw
from triage.records.store import open_store


def result(status: str, urgency: str = "routine", missing=(), va_to_do=None, months=None) -> dict:
    points = [] if va_to_do is None else [{"id": "va_community_care", "criteria": [], "to_do": list(va_to_do),
                                           "text": "t"}]
    return {"status": status, "physician_consult": {"recommended": True, "urgency": urgency, "message": "m"},
            "missing_items": [{"id": item, "label": item, "reason": "r"} for item in missing],
            "discussion_points": points, "months_since_fusion": months, "assessment_date": "2026-11-24",
            "ruleset": {"name": "fbss-triage", "version": "2.0.0"}, "settings": {}}


@pytest.fixture
def clinic(store_location):
    """Intakes of every kind, recorded in an order unlike the worklist's (on each backend)."""
    return _fill(store_location)


@pytest.fixture
def sqlite_clinic(tmp_path):
    return _fill(tmp_path / "triage.db")


def _fill(path):
    with open_store(path) as store:
        store.record_assessment({"patient_id": "READY"}, result("ready_for_evaluation"), user="a")        # 1
        store.record_assessment({"patient_id": "SOON"}, result("urgent", "soon", ("current_mri",)), user="a")  # 2
        store.save_draft({"patient_id": "DRAFT"}, user="a")                                                # 3
        store.record_assessment({"patient_id": "MRI"}, result("records_needed", missing=("current_mri", "surgical_report"),
                                                              va_to_do=("confirm_enrollment", "authorization_before_visit"),
                                                              months=30), user="a")                        # 4
        store.record_assessment({"patient_id": "EMERGENCY"}, result("urgent", "emergency"), user="a")     # 5
        store.record_assessment({"patient_id": "EARLY"}, result("too_early", missing=("surgical_report",)), user="a")  # 6
        store.record_assessment({"patient_id": "SAMEDAY"}, result("urgent", "same_day"), user="a")       # 7
        # Intake 1 is amended: the worklist shows its latest version only.
        store.record_assessment({"patient_id": "READY"}, result("records_needed", missing=("fused_levels",)),
                                user="b", intake_id=1)
    return path


def test_the_worklist_is_ordered_by_urgency_tier_then_status(clinic):
    with open_store(clinic) as store:
        rows = store.worklist()
    assert [row.patient_id for row in rows] == ["EMERGENCY", "SAMEDAY", "SOON", "EARLY", "READY", "MRI", "DRAFT"]
    assert [row.urgency for row in rows][:3] == ["emergency", "same_day", "soon"]
    first = next(row for row in rows if row.patient_id == "READY")
    assert (first.version, first.status, first.missing) == (2, "records_needed", ["fused_levels"])
    mri = next(row for row in rows if row.patient_id == "MRI")
    assert mri.va_to_do == ["confirm_enrollment", "authorization_before_visit"] and mri.months_since_fusion == 30


@pytest.mark.parametrize("filters, expected", [
    ({"status": "urgent"}, ["EMERGENCY", "SAMEDAY", "SOON"]),
    ({"urgency": "soon"}, ["SOON"]),
    ({"missing": "current_mri"}, ["SOON", "MRI"]),
    ({"missing": "surgical_report", "status": "too_early"}, ["EARLY"]),
    ({"va_to_do": "confirm_enrollment"}, ["MRI"]),
    ({"status": "draft"}, ["DRAFT"]),
    ({"missing": "red_flag_screen"}, []),
    ({"va_to_do": True}, ["MRI"]),
    ({"va_to_do": True, "missing": "current_mri"}, ["MRI"]),
    ({"va_to_do": "confirm_enrollment", "missing": "fused_levels"}, []),
    ({"missing": "current_mri", "urgency": "soon"}, ["SOON"]),
])
def test_filters_read_the_indexed_columns(clinic, filters, expected):
    with open_store(clinic) as store:
        assert [row.patient_id for row in store.worklist(**filters)] == expected
        page = store.worklist_page(**filters)
    assert page.shown == len(expected) and page.total == 7
    assert page.counts == {"urgent": 3, "too_early": 1, "records_needed": 2, "draft": 1}


def test_pages_partition_the_worklist(clinic):
    with open_store(clinic) as store:
        whole = [row.intake_id for row in store.worklist()]
        pages = [[row.intake_id for row in store.worklist(limit=3, offset=offset)] for offset in (0, 3, 6, 9)]
    assert pages[0] + pages[1] + pages[2] == whole and pages[3] == []


def test_keyset_pages_partition_the_worklist_forwards_and_backwards(clinic):
    with open_store(clinic) as store:
        whole = store.worklist()
        pages, after = [], None
        while True:
            page = store.worklist_page(limit=3, after=after)
            pages.append([row.intake_id for row in page.rows])
            if not page.more_after:
                break
            after = (page.rows[-1].rank, page.rows[-1].intake_id)
        assert sum(pages, []) == [row.intake_id for row in whole] and [len(p) for p in pages] == [3, 3, 1]
        last = store.worklist_page(limit=3, after=after)
        back = store.worklist_page(limit=3, before=(last.rows[0].rank, last.rows[0].intake_id))
        assert [row.intake_id for row in back.rows] == pages[1] and back.more_before and back.more_after
        first = store.worklist_page(limit=3, before=(back.rows[0].rank, back.rows[0].intake_id))
        assert [row.intake_id for row in first.rows] == pages[0] and not first.more_before
        # A filter pages the same way.
        urgent = store.worklist_page(status="urgent", limit=2)
        rest = store.worklist_page(status="urgent", limit=2, after=(urgent.rows[-1].rank, urgent.rows[-1].intake_id))
        assert [r.patient_id for r in urgent.rows + rest.rows] == ["EMERGENCY", "SAMEDAY", "SOON"]
        assert urgent.more_after and not rest.more_after and urgent.shown == rest.shown == 3


def test_counts_kept_with_the_worklist_equal_a_recount_and_verify_names_a_changed_one(clinic):
    from triage.records.store import counts as worklist_counts

    with open_store(clinic) as store:
        store.save_draft({"patient_id": "SOON", "red_flag_bladder_bowel": "yes"}, user="a", intake_id=2)
        store.acknowledge_alerts(2, user="doc")
        with store._backend.snapshot() as db:
            assert worklist_counts.stored_counts(db) == worklist_counts.expected_counts(db)
        assert store.worklist_page(missing="current_mri").shown == 2
        assert store.worklist_page(missing="current_mri", status="urgent").shown == 1  # counted, bounded
        assert store.verify_audit().ok
    with Raw(clinic) as raw:
        raw.execute("UPDATE worklist_counts SET intakes = intakes + 1 WHERE key = 'status:urgent'")
    with open_store(clinic) as store:
        report = store.verify_audit()
    assert not report.ok and any("worklist count status:urgent" in problem for problem in report.problems)


@pytest.mark.parametrize("option", ["--limit", "--offset"])
def test_a_bad_page_option_is_one_line_naming_it(clinic, option):
    listed = run_cli("list", "--db", str(clinic), option, "-1")
    assert listed.code == 2 and option in listed.err and "not a number of intakes" in listed.err
    assert len(listed.err.strip().splitlines()) == 1 and "Traceback" not in listed.err


def test_list_pages_and_filters_from_the_command_line(clinic):
    listed = run_cli("list", "--db", str(clinic), "--limit", "2", "--offset", "2")
    assert listed.code == 0
    assert "3-4 of 7 matching intakes shown (7 in all); the next page: --offset 4." in listed.out
    assert "SOON" in listed.out and "EARLY" in listed.out and "EMERGENCY" not in listed.out
    as_json = run_cli("list", "--db", str(clinic), "--va-to-do", "-f", "json").json
    assert [row["patient_id"] for row in as_json["intakes"]] == ["MRI"] and as_json["matching"] == 1
    assert run_cli("list", "--db", str(clinic), "--urgency", "emergency", "-f", "json").json["shown"] == 1


def test_list_reads_only_the_worklist_never_a_stored_result(clinic):
    with Raw(clinic) as raw:
        raw.drop_guards()
        raw.execute("UPDATE versions SET result = 'not json'")  # every stored result unreadable
    listed = run_cli("list", "--db", str(clinic), "-f", "json")
    assert listed.code == 0 and listed.json["total"] == 7
    assert run_cli("audit", "verify", "--db", str(clinic)).code == 7  # and verify says what happened


def test_a_schema_5_store_gets_its_worklist_on_opening(sqlite_clinic):
    """(SQLite: a PostgreSQL store begins at schema 6.)"""
    import sqlite3

    clinic = sqlite_clinic
    with open_store(clinic) as store:
        before = store.worklist()
    raw = sqlite3.connect(clinic, isolation_level=None)
    for statement in ("DROP TABLE worklist_counts", "DROP TABLE access_log", "DROP TABLE access_head",  # scale's (17)
                      "DROP INDEX alerts_open_page", "DROP INDEX alerts_latest", "ALTER TABLE alerts DROP COLUMN backlog",
                      "DROP TABLE record_files",  # schema 15's (uploads)
                      "DROP TABLE worklist_items", "DROP TABLE worklist", "DROP INDEX versions_source",
                      "ALTER TABLE invites DROP COLUMN language",  # schema 7's, after the worklist's 6
                      "ALTER TABLE alerts DROP COLUMN kiosk",  # schema 8's
                      "DROP TABLE rate_limits", "DROP TABLE known_devices", "DROP TABLE recovery_codes",  # 9's
                      "ALTER TABLE users DROP COLUMN totp_secret", "ALTER TABLE users DROP COLUMN totp_last_step",
                      "DROP TABLE sessions", "DROP TABLE token_uses",  # schema 10's
                      "DROP TABLE record_requests",  # schema 14's (records)
                      "ALTER TABLE users DROP COLUMN session_generation",
                      "ALTER TABLE users DROP COLUMN alert_sound",  # schema 16's (alertsound)
                      "PRAGMA user_version = 5"):
        raw.execute(statement)
    raw.close()
    with open_store(clinic) as store:
        assert store.worklist() == before
        assert store.verify_audit().ok


# --- `triage batch IN --save` -------------------------------------------------------------------

def _lines(count: int, seed: int = 11) -> list[str]:
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate

    return list(generate.lines(count, seed=seed))


def _recorded(db) -> tuple[int, int]:
    if not isinstance(db, str) and not db.exists():
        return 0, 0
    with Raw(db) as raw:
        try:
            versions, sources = raw.execute("SELECT count(*), count(DISTINCT source) FROM versions").fetchone()
        except Exception as error:  # the store is still being created by the command
            if "no such table" in str(error) or "does not exist" in str(error):
                return 0, 0
            raise
    return versions, sources


def test_batch_save_records_each_valid_line_once_even_when_run_again(tmp_path, store_location):
    source, db = tmp_path / "in.jsonl", store_location
    source.write_text("".join(line + "\n" for line in _lines(300)), encoding="utf-8")
    first = run_cli("batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--save", "--db", str(db),
                    "--workers", "1")
    assert first.code == 0, first.err
    valid = sum(1 for line in (tmp_path / "out.jsonl").read_text().splitlines() if '"error"' not in line)
    assert f"store: {valid:,} lines recorded as intakes" in first.out
    again = run_cli("batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--save", "--db", str(db),
                    "--workers", "1")
    assert f"store: 0 lines recorded as intakes; {valid:,} already recorded" in again.out
    assert _recorded(db) == (valid, valid)
    assert run_cli("audit", "verify", "--db", str(db)).code == 0


def test_batch_save_resumes_after_ctrl_c_without_duplicates(tmp_path, store_location):
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT

    source, db, out = tmp_path / "in.jsonl", store_location, tmp_path / "out.jsonl"
    source.write_text("".join(line + "\n" for line in _lines(3000)), encoding="utf-8")
    command = [*TRIAGE, "batch", str(source), "-o", str(out), "--save",
               "--db", str(db), "--workers", "2"]
    process = subprocess.Popen(command, cwd=SCRATCH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _recorded(db)[0]:  # the first chunk is committed
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode in (0, 130), stderr
    partial = _recorded(db)[0]
    rerun = subprocess.run(command, cwd=SCRATCH, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    valid = sum(1 for line in out.read_text().splitlines() if '"error"' not in line)
    assert _recorded(db) == (valid, valid)  # every valid line once, none twice
    assert partial < valid  # the interruption did stop it part-way
    assert f"{partial:,} already recorded (skipped)" in rerun.stdout
    assert run_cli("audit", "verify", "--db", str(db)).code == 0


def test_batch_save_by_patient_adds_versions_to_the_same_intake(tmp_path, store_location):
    source, db = tmp_path / "in.jsonl", store_location
    source.write_text('{"patient_id": "P-1", "pain_score": 3}\n{"patient_id": "P-2"}\n'
                      '{"patient_id": "P-1", "pain_score": 8}\n{"oops": 1}\n', encoding="utf-8")
    done = run_cli("batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--save", "--by-patient",
                   "--db", str(db), "--workers", "1")
    assert "store: 3 lines recorded as intakes" in done.out
    with open_store(db) as store:
        assert [(row.patient_id, row.version) for row in store.worklist()] == [("P-1", 2), ("P-2", 1)] or \
            sorted((row.patient_id, row.version) for row in store.worklist()) == [("P-1", 2), ("P-2", 1)]
        assert store.get(1).answers["pain_score"] == 8


def test_batch_by_patient_needs_save(tmp_path):
    assert run_cli("batch", "x.jsonl", "-o", str(tmp_path / "o.jsonl"), "--by-patient").code == 2


def _save(source, db, out, *extra: str):
    done = run_cli("batch", str(source), "-o", str(out), "--save", "--db", str(db), "--workers", "1", *extra)
    assert done.code == 0, done.err
    return done


def test_the_same_backlog_split_in_two_and_recorded_twice_records_each_line_once(tmp_path, store_location):
    """Deduplication is by each line's content (answers, assessment date, ruleset, settings), not by
    file and line number: the halves of a backlog recorded after the whole, the whole after its
    halves, a merged and re-ordered file, or the same answers written with other key order and
    spellings, record nothing twice."""
    db, out = store_location, tmp_path / "out.jsonl"
    lines = _lines(200)
    whole, first, second = tmp_path / "whole.jsonl", tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    whole.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    first.write_text("".join(line + "\n" for line in lines[:90]), encoding="utf-8")
    second.write_text("".join(line + "\n" for line in lines[90:]), encoding="utf-8")
    _save(first, db, out)
    recorded_first = _recorded(db)[0]
    _save(second, db, out)
    valid = sum(1 for line in out.read_text().splitlines() if '"error"' not in line) + recorded_first
    assert _recorded(db) == (valid, valid) and 0 < recorded_first < valid
    again = _save(whole, db, out)
    assert f"store: 0 lines recorded as intakes; {valid:,} already recorded (skipped)" in again.out
    merged = tmp_path / "merged.jsonl"  # both halves again, other order, other spelling of the same answers
    import json

    respelled = [json.dumps(dict(reversed(list(json.loads(line).items())))) if line.startswith("{") else line
                 for line in lines]
    merged.write_text("".join(line + "\n" for line in reversed(respelled)), encoding="utf-8")
    _save(merged, db, out)
    assert _recorded(db) == (valid, valid)
    assert run_cli("audit", "verify", "--db", str(db)).code == 0


def test_the_key_holds_the_date_and_a_line_twice_or_from_standard_input_is_recorded_once(tmp_path, store_location):
    """The key holds what changes the result: the same answers assessed to another date are another
    assessment (recorded); the same line twice in one file, or from standard input, is one."""
    db, out = store_location, tmp_path / "out.jsonl"
    source = tmp_path / "in.jsonl"
    source.write_text('{"patient_id": "P-1", "pain_score": 3}\n' * 2, encoding="utf-8")
    first = _save(source, db, out, "--as-of", "2026-11-24")
    assert "store: 1 lines recorded as intakes; 1 already recorded (skipped)" in first.out
    other_day = _save(source, db, out, "--as-of", "2026-11-25")
    assert "store: 1 lines recorded as intakes; 1 already recorded (skipped)" in other_day.out
    import sys

    saved = sys.stdin
    try:
        import io

        sys.stdin = io.TextIOWrapper(io.BytesIO(source.read_bytes()))
        piped = run_cli("batch", "-", "-o", str(out), "--save", "--db", str(db), "--workers", "1",
                        "--as-of", "2026-11-24")
    finally:
        sys.stdin = saved
    assert piped.code == 0, piped.err
    assert "store: 0 lines recorded as intakes; 2 already recorded (skipped)" in piped.out
    assert _recorded(db) == (2, 2)


def test_shards_recorded_on_two_machines_record_the_whole_backlog_once(tmp_path, store_location):
    db = store_location
    source = tmp_path / "in.jsonl"
    source.write_text("".join(line + "\n" for line in _lines(160)), encoding="utf-8")
    _save(source, db, tmp_path / "part1.jsonl", "--shard", "1/2")
    part = _recorded(db)[0]
    _save(source, db, tmp_path / "part2.jsonl", "--shard", "2/2")
    valid = sum(1 for name in ("part1", "part2") for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()
                if '"error"' not in line)
    assert 0 < part < valid and _recorded(db) == (valid, valid)
    whole = _save(source, db, tmp_path / "whole.jsonl")
    assert f"store: 0 lines recorded as intakes; {valid:,} already recorded (skipped)" in whole.out
