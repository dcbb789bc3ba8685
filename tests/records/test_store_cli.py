"""The store as users meet it: assess --save, list, show, export, audit verify, exit codes 5/6/7."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support.cli import TRIAGE
from support.cli_store import db  # noqa: F401 (fixture)
from support.postgres import Raw

EXAMPLES = ROOT / "examples"
SCENARIOS = ROOT / "tests" / "data" / "scenarios" / "valid"
SECRET = "PT-SECRET-4711"


@pytest.fixture
def sqlite_db(tmp_path, monkeypatch) -> str:
    """An SQLite store (for what only a file has, and for renderings that do not depend on the store)."""
    path = tmp_path / "store" / "triage.db"
    monkeypatch.setenv("TRIAGE_DB", str(path))
    return str(path)


def scenario(name: str) -> dict:
    return tomllib.loads((SCENARIOS / f"{name}.toml").read_text(encoding="utf-8"))["answers"]


def save(path: str, *extra: str) -> int:
    run = run_cli("assess", path, "--save", "--user", "alice", "--format", "json", *extra)
    assert run.code == 0, run.err
    match = re.fullmatch(r"saved: intake (\d+) version (\d+) \(triage show \d+\)\n", run.err)
    assert match, run.err
    return int(match.group(1))


@pytest.fixture
def clinic(db):
    """Three intakes from the shipped examples: ready, records missing, urgent."""
    return {name: save(str(EXAMPLES / f"{name}.json")) for name in ("adjacent-tear", "records-missing", "red-flag")}


def test_list_shows_status_months_and_missing_with_counts(clinic, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # a wide terminal: one line per row or item
    run = run_cli("list", "--format", "json")
    assert run.code == 0, run.err
    rows = {row["intake_id"]: row for row in run.json["intakes"]}
    assert rows[clinic["adjacent-tear"]]["status"] == "ready_for_evaluation"
    assert rows[clinic["adjacent-tear"]]["missing"] == []
    assert rows[clinic["records-missing"]]["status"] == "records_needed"
    assert set(rows[clinic["records-missing"]]["missing"]) == {"fused_levels", "current_mri", "surgical_report"}
    assert rows[clinic["red-flag"]]["status"] == "urgent"
    assert rows[clinic["adjacent-tear"]]["months_since_fusion"] == 31
    assert run.json["counts"] == {"urgent": 1, "too_early": 0, "records_needed": 1, "ready_for_evaluation": 1, "draft": 0}
    assert [row["status"] for row in run.json["intakes"]][0] == "urgent"  # most pressing first

    text = run_cli("list").out
    assert text.splitlines()[1].split()[:3] == [str(clinic["red-flag"]), "EXAMPLE-002", "urgent"]
    assert "All intakes: urgent 1, too_early 0, records_needed 1, ready_for_evaluation 1, draft 0" in text


def test_list_filters_by_status_and_missing_item(clinic):
    urgent = run_cli("list", "--status", "urgent", "--format", "json").json
    assert [row["intake_id"] for row in urgent["intakes"]] == [clinic["red-flag"]]
    reports = run_cli("list", "--missing", "surgical_report", "--format", "json").json
    assert {row["intake_id"] for row in reports["intakes"]} == {clinic["red-flag"], clinic["records-missing"]}
    assert run_cli("list", "--missing", "fused_levels").out.count("EXAMPLE-") == 1
    bad = run_cli("list", "--missing", "mri")
    assert bad.code == 2 and bad.err.startswith("error: ") and "--missing" in bad.err


def test_empty_store_lists_nothing_and_creates_the_file(sqlite_db):
    run = run_cli("list")
    assert run.code == 0 and "(the store has no intakes yet)" in run.out
    assert stat.S_IMODE(Path(sqlite_db).stat().st_mode) == 0o600


def test_db_option_wins_over_the_environment(db, tmp_path, answers_file):
    other = tmp_path / "other.db"
    run = run_cli("assess", answers_file({}), "--save", "--db", str(other))
    assert run.code == 0 and other.exists()
    assert run_cli("list", "--format", "json").json["total"] == 0
    assert run_cli("list", "--db", str(other), "--format", "json").json["total"] == 1


def test_show_explains_every_line_with_rule_id_and_source(clinic, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # a wide terminal: one line per row or item
    run = run_cli("show", str(clinic["adjacent-tear"]))
    assert run.code == 0, run.err
    out = run.out
    for expected in ("Intake 1 - version 1 of 1", "Patient reference: EXAMPLE-001", "Fusion date: 2024-03 (31 months",
                     "Fused levels: L4-L5, L5-S1", "Adjacent levels: L3-L4", "Operative report available: yes",
                     "MRI date: 2026-08-14", "Pain quality: aching, shooting", "Red flags",
                     "[TEAR-01 article#step-4]", "[CONSULT-01 article#step-2]", "Ruleset fbss-triage 2.1.0",
                     "answered no: 10 of 10", "v1  "):
        assert expected in " ".join(out.split()) or expected in out, expected
    urgent = run_cli("show", str(clinic["red-flag"])).out
    assert re.search(r"!! .*: yes  \[RF-01 ces-card#bladder-bowel\]", urgent)
    assert re.search(r"!\? +RF: new saddle numbness: NOT ANSWERED - ask now \(answered unknown\)", urgent)  # never like no


def test_show_lists_earlier_versions_and_shows_any_of_them(clinic):
    intake = str(clinic["records-missing"])
    amended = run_cli("assess", str(EXAMPLES / "adjacent-tear.json"), "--amend", intake, "--base-version", "1",
                      "--change-patient")  # another example's answers: another patient reference, on purpose
    assert amended.code == 0 and f"saved: intake {intake} version 2" in amended.err
    latest = run_cli("show", intake, "--format", "json").json
    assert latest["version"] == 2 and [v["version"] for v in latest["versions"]] == [1, 2]
    assert latest["result"]["status"] == "ready_for_evaluation"
    first = run_cli("show", intake, "--intake-version", "1", "--format", "json").json
    assert first["result"]["status"] == "records_needed"
    text = run_cli("show", intake).out
    assert "version 2 of 2" in text and re.search(r"\* v2 .* ready_for_evaluation", text)


def test_conflicting_amendment_exits_6_and_saves_nothing(clinic, answers_file):
    intake = str(clinic["red-flag"])
    first = run_cli("assess", answers_file({"patient_id": SECRET}), "--amend", intake, "--base-version", "1",
                    "--change-patient")
    assert first.code == 0
    second = run_cli("assess", answers_file({"patient_id": SECRET, "pain_score": 9}), "--amend", intake,
                     "--base-version", "1", "--format", "json", "--change-patient")
    assert second.code == 6 and second.out == ""
    assert second.err.startswith("error: triage assess: conflict: intake 3: version 2 was recorded since version 1")
    assert SECRET not in second.err
    assert len(run_cli("show", intake, "--format", "json").json["versions"]) == 2


@pytest.mark.parametrize("args, where", [
    (("show", "42"), "error: triage show: intake 42 does not exist in "),
    (("show", "abc"), "is not an intake id"),
    (("export", "1", "--format", "pdf"), "--format"),
    (("show", "1", "--intake-version", "9"), "error: triage show: intake 1 has no version 9 (the latest is 1)"),
])
def test_bad_ids_and_options_exit_2_in_one_line(clinic, args, where):
    run = run_cli(*args)
    assert run.code == 2 and len(run.err.splitlines()) == 1 and where in run.err, run.err


def test_base_version_needs_amend(sqlite_db, answers_file):
    run = run_cli("assess", answers_file({}), "--save", "--base-version", "1")
    assert run.code == 2 and "--base-version: only goes with --amend ID" in run.err


@pytest.mark.parametrize("content, message", [
    (b"definitely not sqlite " * 200, "is not a triage store"),
])
def test_unusable_store_exits_5_in_one_line(tmp_path, answers_file, content, message):
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    for args in (("list",), ("assess", answers_file({"patient_id": SECRET}), "--save")):
        run = run_cli(*args, "--db", str(bad))
        assert run.code == 5 and run.out == ""
        assert run.err == f"error: triage {args[0]}: store: {bad}: {message} (not an SQLite database, or damaged)\n"


def as_root():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("this test runs as root under CI")
        pytest.skip("root only")


def test_root_does_not_open_a_service_accounts_store_and_leaves_it_untouched(tmp_path):
    as_root()
    service = tmp_path / "var-lib"
    service.mkdir(mode=0o700)
    store = service / "triage.db"
    run_cli("db", "migrate", "--db", str(store))
    for path in (service, store):
        os.chown(path, 65534, 65534)  # the service's account (nobody stands for it)
    before = sorted(p.name for p in service.iterdir())
    for args in (("list",), ("users", "list"), ("db", "backup", str(tmp_path / "copy.db"))):
        run = run_cli(*args, "--db", str(store))
        assert run.code == 5 and run.out == "", (args, run.err)
        command = " ".join(a for a in args if not a.startswith("/"))
        assert run.err == (f"error: triage {command}: store: {store}: belongs to the account nobody, not root; run "
                           "triage as that account (runuser -u nobody -- triage ...) so that the files it writes "
                           "stay usable by it\n")
    assert sorted(p.name for p in service.iterdir()) == before and not (tmp_path / "copy.db").exists()
    # A new store in the account's folder is refused too (root would own it); root's own folders are root's.
    run = run_cli("list", "--db", str(service / "new.db"))
    assert run.code == 5 and f"{service}: belongs to the account nobody" in run.err and not (service / "new.db").exists()
    os.chown(store, 0, 0)
    os.chown(service, 0, 0)
    assert run_cli("list", "--db", str(store)).code == 0


def test_newer_store_exits_5(sqlite_db):
    run_cli("list")
    raw = sqlite3.connect(sqlite_db)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    run = run_cli("list")
    assert run.code == 5 and "written by a newer version of triage (store schema 99" in run.err


def test_export_formats_written_atomically_and_privately(clinic, tmp_path):
    intake = str(clinic["adjacent-tear"])
    for fmt in ("json", "markdown", "html", "fhir"):
        target = tmp_path / f"out.{fmt}"
        run = run_cli("export", intake, "--format", fmt, "--out", str(target))
        assert run.code == 0 and run.out == "", run.err
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        assert target.read_text(encoding="utf-8") == run_cli("export", intake, "--format", fmt).out
    assert not list(tmp_path.glob(".*.tmp"))
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["answers"]["patient_id"] == "EXAMPLE-001" and document["result"]["status"] == "ready_for_evaluation"
    assert "TEAR-01" in (tmp_path / "out.markdown").read_text()
    unwritable = run_cli("export", intake, "--format", "json", "--out", str(tmp_path / "no" / "such" / "dir.json"))
    assert unwritable.code == 2 and "cannot be written" in unwritable.err


def test_html_is_self_contained_printable_and_escaped(sqlite_db, answers_file):
    intake = save(answers_file({"patient_id": "<script>alert('x')</script> & co", "red_flag_major_trauma": "yes"}))
    page = run_cli("export", str(intake), "--format", "html").out
    assert page.startswith("<!DOCTYPE html>") and "@media print" in page
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; co" in page
    assert not re.search(r"""src\s*=|@import|url\(|<link""", page)  # nothing fetched from anywhere
    # Links only to the page's own list of sources (or a source's web address: followed, never fetched).
    assert re.findall(r'href="([^"]*)"', page) and all(
        href.startswith(("#source-", "https://")) for href in re.findall(r'href="([^"]*)"', page))
    assert "id='source-policy'" in page and 'href="#source-policy"' in page
    for section in ("Records", "Symptom pattern", "Red flags"):  # what `show` holds
        assert f"<h2>{section}</h2>" in page
    assert "[ ]" not in page and "[!]" not in page  # statuses are styled words, not text markers
    assert "URGENT" in page and 'RF-05 <a href="#source-nice-cks-lbp">nice-cks-lbp#fracture</a>' in page


DATE = re.compile(r"\d{4}-\d{2}")


@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "fhir"])
@pytest.mark.parametrize("case", ["adjacent-tear", "healing-full-date-day-before-6-months-too-early"])
def test_deidentified_exports_keep_no_identifier_and_only_years(sqlite_db, answers_file, fmt, case):
    # Dates appear in answers, in reasons ("an MRI dated 2026-08-14", "the healing window runs until
    # ...") and in timestamps.
    base = json.loads((EXAMPLES / f"{case}.json").read_text()) if (EXAMPLES / f"{case}.json").exists() else scenario(case)
    answers = {**base, "patient_id": SECRET}
    intake = save(answers_file(answers), "--user", "nurse-jane")
    out = run_cli("export", str(intake), "--format", fmt, "--deidentify").out
    assert SECRET not in out and "nurse-jane" not in out and "alice" not in out
    assert not DATE.search(out), DATE.search(out)
    assert "months before the assessment" not in out
    if fmt == "json":
        data = json.loads(out)
        assert data["deidentified"] is True and "intake_id" not in data
        assert data["result"]["months_since_fusion"] is None
        assert data["answers"]["assessment_date"] == answers["assessment_date"][:4]
        assert "patient_id" not in data["answers"]
    if fmt == "fhir":
        assert '"id"' not in out.split('"item"')[0]


def test_audit_verify_passes_then_catches_a_hand_edited_row(clinic, db):
    run_cli("show", "1")
    run_cli("export", "2", "--format", "fhir")
    ok = run_cli("audit", "verify")
    assert ok.code == 0 and ok.out.startswith("ok: 4 audit rows") and "access log: 2 rows" in ok.out
    with Raw(db) as raw:
        actions = [row[0] for row in raw.execute("SELECT action FROM audit ORDER BY seq")]
        # the red-flag intake raises an alert for staff, audited by its hash
        assert sorted(actions) == ["alert_raised", "created", "created", "created"]
        # who looked: the access log, its own chain
        assert [row[0] for row in raw.execute("SELECT action FROM access_log ORDER BY seq")] == ["viewed", "exported"]
        raw.drop_guards()
        raw.execute("UPDATE audit SET \"user\" = 'someone-else' WHERE seq = 4")
    broken = run_cli("audit", "verify")
    assert broken.code == 7
    assert broken.err.splitlines()[0] == "error: triage audit verify: audit: audit row 4: its contents were changed after it was written"


def test_list_records_its_access_in_the_access_log(clinic, db):
    run_cli("list", "--user", "coordinator-1")
    with Raw(db) as raw:
        assert tuple(raw.execute("SELECT \"user\", action FROM access_log ORDER BY seq DESC LIMIT 1").fetchone()) \
            == ("coordinator-1", "listed")


def test_audit_without_action_prints_help(sqlite_db):
    run = run_cli("audit")
    assert run.code == 2 and "verify" in run.out


def test_worklist_fits_80_columns_and_says_a_draft_is_not_assessed():
    from triage.channels.cli.records import worklist_text
    from triage.records.store import WorklistRow

    rows = [WorklistRow(12, 1, "records_needed", "MRN-00012345678-JOHNSON-ROBERT", 81, "2026-11-27",
                        ["fused_levels", "current_mri", "surgical_report", "symptom_pattern", "red_flag_screen"],
                        "2026-11-27T08:00:00Z", True),
             WorklistRow(13, 0, "draft", "P-9", None, None, [], "2026-11-27T08:00:00Z", True)]
    text = worklist_text(rows, 2, {"records_needed": 1, "draft": 1}, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "MRN-000123456\u2026" in text and "JOHNSON" not in text  # cut with an ellipsis, whole in `show`
    assert "red_flag_screen" in text and "(new version in progress)" in " ".join(text.split())
    draft = next(line for line in text.splitlines() if line.lstrip().startswith("13"))
    assert "not assessed yet" in draft and draft.split()[2] == "draft"
    assert "..." in worklist_text(rows, 2, {}, width=80, ascii_only=True)


def _worklist_rows():
    from triage.records.store import WorklistRow

    return [WorklistRow(3, 1, "urgent", "EXAMPLE-002", 2, "2026-11-24", ["current_mri", "surgical_report",
                        "red_flag_screen"], "2026-11-24T08:00:00Z", False, urgency="emergency"),
            WorklistRow(5, 1, "ready_for_evaluation", "MRN-00012345678-JOHNSON", 31, "2026-11-24", [],
                        "2026-11-24T08:00:00Z", False),
            WorklistRow(7, 1, "records_needed", "P-7", 42, "2026-11-24", ["fused_levels", "current_mri"],
                        "2026-11-24T08:00:00Z", True, alert_urgency="same_day"),
            WorklistRow(9, 0, "draft", "P-9", 31, "2026-11-24", [], "2026-11-24T08:00:00Z", True)]


@pytest.mark.parametrize("width", [100, 80, 72, 60, 50, 40])
def test_the_worklist_never_breaks_a_word_and_keeps_id_patient_and_status(width):
    from triage.channels.cli.records import status_words, worklist_text

    rows = _worklist_rows()
    text = worklist_text(rows, 4, {"urgent": 1}, width=width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width, text
    words = set(text.split())
    for item in ("current_mri", "surgical_report", "red_flag_screen", "fused_levels", "ready_for_evaluation"):
        assert item in words or f"{item}," in words, (item, text)  # whole, never MISSI / NG
    for row in rows:  # each row's line starts with its ID, its patient (cut at most) and its status
        line = next(line for line in lines if line.split()[:1] == [str(row.intake_id)])
        assert line.split()[1] == row.patient_id or line.split()[1].endswith("\u2026")
        if width >= 50 and "(" not in status_words(row):
            assert status_words(row) in line
        else:  # a long status wraps between its words, under its column
            assert status_words(row).split()[0] in line.split()
    assert all(status_words(row) in " ".join(text.split()) for row in rows[:2])
    if width >= 80:  # an alert's long status wraps in its cell before a column is left out
        assert "ASSESSED" in lines[0] and "MISSING" in lines[0] and "Too narrow" not in text
    if width == 60:  # months since fusion stay; the assessment date goes, and the summary says so
        assert lines[0].split() == ["ID", "PATIENT", "STATUS", "FUSION"] and "31 mo" in text
        assert "Too narrow for ASSESSED" in " ".join(text.split())
        assert "missing: red_flag_screen, current_mri, surgical_report" in text


def test_list_marks_a_missing_record_whose_request_is_overdue_and_counts_them(clinic, db):
    from triage.records.store import open_store

    intake = clinic["records-missing"]  # missing current_mri and surgical_report
    with open_store(db, clock=lambda: "2026-01-05T09:00:00Z") as store:  # long ago: overdue now
        store.request_record(intake, "current_mri", source="Imaging centre", via=None, by="alice")
    with open_store(db) as store:  # just now: not overdue
        store.request_record(intake, "surgical_report", source="Dr Lee", via=None, by="alice")
    listed = run_cli("list", "--format", "json").json
    assert listed["overdue_requests"] == 1 and listed["overdue_after_days"] == 7
    assert {row["intake_id"]: row["overdue_requests"] for row in listed["intakes"]} == {
        clinic["red-flag"]: [], intake: ["current_mri"], clinic["adjacent-tear"]: []}
    flat = " ".join(run_cli("list").out.split())
    assert "current_mri (request overdue)" in flat and "surgical_report (request overdue)" not in flat
    assert "Record requests overdue (open over 7 days): 1; triage records list --overdue lists them." in flat
    urgent = " ".join(run_cli("list", "--status", "urgent").out.split())  # another page: its rows, the same total
    assert "(request overdue)" not in urgent and "Record requests overdue (open over 7 days): 1;" in urgent
    with open_store(db) as store:
        store.record_unobtainable(intake, "current_mri", reason="The imaging centre closed", by="alice")
    assert "overdue" not in run_cli("list").out  # nothing open is overdue: no tag, no line


def test_a_drafts_row_shows_the_months_its_answers_give(tmp_path):
    db = tmp_path / "t.db"
    done = subprocess.run([*TRIAGE, "intake", "--db", str(db)], input="P-1\n2026-11-24\n2024-03\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # piped input ended early; the draft is kept
    listed = run_cli("list", "--db", str(db), "--format", "json").json["intakes"]
    assert [(row["status"], row["months_since_fusion"]) for row in listed] == [("draft", 31)]
    line = run_cli("list", "--db", str(db)).out.splitlines()[1]
    assert line.split()[:6] == ["1", "P-1", "draft", "31", "mo", "2026-11-24"]


def test_show_on_a_draft_shows_its_answers_and_the_resume_command(tmp_path):
    db = tmp_path / "t.db"
    done = subprocess.run([*TRIAGE, "intake", "--db", str(db)], input="P-1\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2  # piped input ended early; the draft is kept
    run = run_cli("show", "1", "--db", str(db))
    assert run.code == 0 and run.err == ""  # a draft is shown as it stands, not refused (issue 25)
    assert "NOT SENT YET: a draft in progress" in run.out and "Patient reference: P-1" in run.out
    assert "Continue it: triage intake --resume-intake 1" in run.out
    shown = run_cli("show", "1", "--db", str(db), "--format", "json").json
    assert shown["draft"]["answers"]["patient_id"] == "P-1" and shown["versions"] == [] and shown["open_alerts"] == []
    export = run_cli("export", "1", "--format", "json", "--db", str(db))  # an export is of a recorded version
    assert export.code == 2 and "only a draft in progress" in export.err


@pytest.mark.parametrize("extra, paged", [((), True), (("--no-pager",), False)])
def test_pager_only_on_a_terminal_for_tall_output(tmp_path, extra, paged):
    import pexpect

    env = {**os.environ, "PAGER": "sed s/^/PAGED:/", "TERM": "dumb", "COLUMNS": "80", "LINES": "24"}
    child = pexpect.spawn(TRIAGE[0], ["rules", *extra], env=env, encoding="utf-8",
                          dimensions=(24, 80), timeout=60)
    child.expect(pexpect.EOF)
    assert ("PAGED:" in child.before) is paged
    piped = subprocess.run([*TRIAGE, "rules"], env=env, capture_output=True, text=True,
                           timeout=60)
    assert "PAGED:" not in piped.stdout and piped.returncode == 0


def test_worklist_orders_urgent_by_tier_then_open_screens_and_filters_by_tier_and_va(db, answers_file):
    """Emergency, same day, within days, then the other statuses; within a status an open red-flag
    screen comes first (a question to ask again before any record to chase)."""
    ids = {
        "ready": save(answers_file(scenario("complete-ready-for-evaluation"), "ready.json")),
        "soon": save(answers_file(scenario("red-flag-immunosuppression-alone-soon"), "soon.json")),
        "records": save(answers_file({**scenario("complete-ready-for-evaluation"), "surgical_report_available": "no"},
                                     "records.json")),
        "screen_open": save(answers_file(scenario("revision-1-answers-file-all-six-no"), "screen.json")),
        "same_day": save(answers_file(scenario("mixed-same-day-and-soon-same-day-wins"), "same.json")),
        "emergency": save(answers_file(scenario("mixed-emergency-and-soon-emergency-wins"), "emergency.json")),
        "veteran": save(answers_file(scenario("veteran-va-wait-only-enrollment-unknown"), "veteran.json")),
    }
    listed = run_cli("list", "--format", "json").json["intakes"]
    assert [row["intake_id"] for row in listed] == [ids[name] for name in (
        "emergency", "same_day", "soon", "screen_open", "records", "ready", "veteran")]
    assert [row["urgency"] for row in listed][:3] == ["emergency", "same_day", "soon"]

    text = run_cli("list").out  # the tier in words, unmistakable without colour
    statuses = [line.split("  ")[2:4] for line in text.splitlines()[1:4]]
    assert "urgent EMERGENCY" in text.splitlines()[1] and "urgent SAME DAY" in text.splitlines()[2]
    assert "urgent WITHIN DAYS" in text.splitlines()[3], statuses

    for tier, name in (("emergency", "emergency"), ("same_day", "same_day"), ("soon", "soon")):
        only = run_cli("list", "--urgency", tier, "--format", "json").json["intakes"]
        assert [row["intake_id"] for row in only] == [ids[name]]
    assert run_cli("list", "--urgency", "urgent").code == 2  # not a tier: one clear line, exit 2
    assert [row["intake_id"] for row in run_cli("list", "--status", "urgent", "--format", "json").json["intakes"]] \
        == [ids["emergency"], ids["same_day"], ids["soon"]]

    veterans = run_cli("list", "--va-to-do", "--format", "json").json["intakes"]
    assert [(row["intake_id"], row["va_to_do"]) for row in veterans] == [
        (ids["veteran"], ["confirm_enrollment", "request_va_referral", "authorization_before_visit"])]
    assert "VA to do: confirm_enrollment, request_va_referral, authorization_before_visit" in \
        " ".join(run_cli("list", "--va-to-do").out.split())
