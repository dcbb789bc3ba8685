"""Integrity and security hardening, tried as a careless or hostile user would: injection into
terminals and documents, wrongly typed settings, non-ASCII digits, huge ids, an empty TRIAGE_DB,
a read-only store, closed output after a save, and `kill -9` of a batch."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support.cli import SCRATCH, TRIAGE

ESC = "\x1b[2J\x1b]0;owned\x07"
RLO = "\u202e"


def no_raw_controls(text: str) -> bool:
    return "\x1b" not in text and "\x07" not in text and RLO not in text and "\x9b" not in text


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    path = tmp_path / "store" / "triage.db"
    monkeypatch.setenv("TRIAGE_DB", str(path))
    return str(path)


# --- 3. terminal and document injection ---------------------------------------------------------

def test_unknown_key_with_an_escape_sequence_is_shown_neutralised(answers_file):
    run = run_cli("assess", answers_file({f"pain{ESC}": 1}))
    assert run.code == 2
    assert no_raw_controls(run.err) and "<U+001B>[2J" in run.err


def test_unreadable_file_name_with_an_escape_sequence_is_shown_neutralised(tmp_path):
    run = run_cli("assess", str(tmp_path / f"missing{ESC}.json"))
    assert run.code == 2 and no_raw_controls(run.err) and "<U+001B>" in run.err


def test_fhir_link_id_with_an_escape_sequence_is_shown_neutralised(answers_file):
    response = {"resourceType": "QuestionnaireResponse", "status": "completed",
                "questionnaire": "http://example.org/fhir/Questionnaire/fbss-intake",
                "item": [{"linkId": f"x{ESC}", "answer": [{"valueString": "y"}]}]}
    run = run_cli("assess", answers_file(response))
    assert run.code == 2 and no_raw_controls(run.err), run.err


@pytest.mark.parametrize("name", [f"nurse{ESC}", f"nurse{RLO}jane", "nurse\x9b2J", "  "])
def test_user_names_with_control_or_bidi_characters_are_refused(db, answers_file, name):
    run = run_cli("assess", answers_file({"pain_score": 2}), "--save", "--user", name)
    assert run.code == 2 and run.err.startswith("error: ") and "--user" in run.err
    assert no_raw_controls(run.err)
    assert not Path(db).exists() or run_cli("list", "--format", "json").json["total"] == 0


@pytest.mark.parametrize("reference", [f"PT{RLO}1-TP", f"PT\u2066x", "PT\u200fx"])
def test_patient_references_with_bidi_characters_are_refused_naming_the_field(answers_file, reference):
    run = run_cli("assess", answers_file({"patient_id": reference}))
    assert run.code == 2 and run.err.startswith("error: triage assess: patient_id: contains an invisible formatting character")


def _forge(db: str, column: str, value: str) -> None:
    """What an old store, or someone with the file, may hold: a value input would refuse."""
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("DROP TRIGGER IF EXISTS versions_no_update")
    if column == "recorded_by":
        raw.execute("UPDATE versions SET recorded_by = ?", (value,))
    else:
        raw.execute("UPDATE versions SET patient_id = ?, answers = json_set(answers, '$.patient_id', ?)",
                    (value, value))
        raw.execute("UPDATE worklist SET patient_id = ?", (value,))
    raw.close()


def test_stored_values_are_neutralised_in_list_show_and_every_export(db, answers_file, tmp_path):
    run_cli("assess", answers_file({"patient_id": "PT-1", "pain_score": 4}), "--save")
    _forge(db, "patient_id", f"PT{ESC}{RLO}1")
    _forge(db, "recorded_by", f"nurse{ESC}")
    for args in (("list",), ("show", "1"), ("export", "1", "--format", "markdown"),
                 ("export", "1", "--format", "html")):
        run = run_cli(*args)
        assert run.code == 0, (args, run.err)
        assert no_raw_controls(run.out), args
        assert "<U+001B>" in run.out or "&lt;U+001B&gt;" in run.out, args
    for args in (("list", "--format", "json"), ("show", "1", "--format", "json"),
                 ("export", "1", "--format", "json"), ("export", "1", "--format", "fhir")):
        run = run_cli(*args)
        assert no_raw_controls(run.out), args
        json.loads(run.out)  # still valid JSON, holding the same value as escapes
        assert "\\u001b" in run.out and "\\u202e" in run.out, args


@pytest.mark.parametrize("reference, must_not_contain", [
    ("<script>alert(1)</script>", "<script>"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[click](javascript:alert(1))", "[click](javascript"),
    ("![x](http://tracker.invalid/p.png)", "![x]("),
    ("*bold* `code` |cell|", "*bold*"),
])
def test_the_markdown_export_never_turns_a_reference_into_markup(db, answers_file, reference, must_not_contain):
    run_cli("assess", answers_file({"patient_id": reference}), "--save")
    markdown = run_cli("export", "1", "--format", "markdown")
    assert markdown.code == 0
    assert must_not_contain not in markdown.out
    page = run_cli("export", "1", "--format", "html").out
    assert "<script>alert" not in page and "<img src=x" not in page


# --- 4. settings are strictly typed -------------------------------------------------------------

@pytest.mark.parametrize("line", ["healing_window_months = true", 'healing_window_months = "6"',
                                  "mri_currency_months = 12.0", "clinic_name = 5"])
def test_a_setting_of_the_wrong_type_exits_3_naming_the_key(answers_file, tmp_path, line):
    settings = tmp_path / "settings.toml"
    settings.write_text(line + "\n", encoding="utf-8")
    run = run_cli("assess", answers_file({"fusion_date": "2026-09"}), "--settings", str(settings),
                  "--as-of", "2026-11-24")
    assert run.code == 3 and line.split(" = ")[0] in run.err and run.out == ""


# --- 7. ASCII digits, huge ids, empty TRIAGE_DB -------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("fusion_date", "\uff12\uff10\uff12\uff14-\uff10\uff13"),  # fullwidth 2024-03
    ("fusion_date", "\u0662\u0660\u0662\u0664-\u0660\u0663"),  # Arabic-Indic 2024-03
    ("assessment_date", "2026-11-2\u0664"),
    ("fused_levels", ["L\u0664-L5"]),
])
def test_dates_and_levels_accept_ascii_digits_only(answers_file, field, value):
    run = run_cli("assess", answers_file({field: value}))
    assert run.code == 2 and run.err.startswith(f"error: triage assess: {field}: "), run.err


def test_as_of_accepts_ascii_digits_only(answers_file):
    run = run_cli("assess", answers_file({}), "--as-of", "\uff12\uff10\uff12\uff16-11-24")
    assert run.code == 2 and "--as-of" in run.err


@pytest.mark.parametrize("args", [("show", "99999999999999999999999"), ("show", "9223372036854775808"),
                                  ("show", "\u0661"), ("show", "1", "--intake-version", "99999999999999999999"),
                                  ("export", "\u00b2", "--format", "json")])
def test_ids_out_of_range_or_not_ascii_exit_2_in_one_line(db, args):
    run = run_cli(*args)
    assert run.code == 2 and run.err.count("\n") == 1 and "internal" not in run.err, run.err


def test_the_largest_id_is_simply_not_found(db):
    run = run_cli("show", "9223372036854775807")
    assert run.code == 2 and "does not exist" in run.err


def test_an_empty_triage_db_is_refused_not_replaced_by_the_per_user_store(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_DB", "")
    run = run_cli("list")
    assert run.code == 2 and run.err.startswith("error: triage list: TRIAGE_DB: is set but empty")
    assert not (tmp_path / "home").exists()
    assert run_cli("list", "--db", "").code == 2


def test_an_empty_triage_settings_is_refused(monkeypatch, answers_file):
    monkeypatch.setenv("TRIAGE_SETTINGS", "")
    run = run_cli("assess", answers_file({}))
    assert run.code == 2 and run.err.startswith("error: triage assess: TRIAGE_SETTINGS: is empty")


# --- 7. a store on a read-only file system ------------------------------------------------------

def _read_only_mount_available() -> bool:
    probe = subprocess.run(["unshare", "-m", "-r", "true"], capture_output=True)
    return probe.returncode == 0


def test_reading_commands_read_a_store_on_a_read_only_file_system(tmp_path, answers_file):
    if not shutil.which("unshare"):
        if os.environ.get("CI") == "true":
            pytest.fail("unshare (util-linux) is needed in CI")
        pytest.skip("unshare (util-linux) is not installed")
    if not _read_only_mount_available():
        pytest.skip("this kernel or container does not allow a private mount namespace")
    folder = tmp_path / "ro"
    folder.mkdir()
    store = folder / "triage.db"
    assert run_cli("assess", answers_file({"patient_id": "PT-RO"}), "--save", "--db", str(store)).code == 0
    script = (f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" && '
              f'for c in "list" "show 1" "audit verify" "export 1 --format json"; do '
              f'"{TRIAGE[0]}" $c --db "{store}" >/dev/null 2>>"{tmp_path}/err" '
              f'|| echo "failed: $c $?"; done; '
              f'echo "{{}}" | "{sys.executable}" "{ROOT / "cli.py"}" assess - --save --db "{store}" '
              f'>/dev/null 2>"{tmp_path}/save-err"; echo "save: $?"')
    done = subprocess.run(["unshare", "-m", "-r", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert "failed" not in done.stdout, (done.stdout, (tmp_path / "err").read_text())
    assert "save: 5" in done.stdout
    assert "cannot be written" in (tmp_path / "save-err").read_text()
    assert "is read-only: this access cannot be recorded" in (tmp_path / "err").read_text()


# --- 6. exit codes after a successful save ------------------------------------------------------

def _assess_save(tmp_path, answers: str, store: Path, **streams) -> subprocess.CompletedProcess:
    return subprocess.run([*TRIAGE, "assess", answers, "--save", "--db", str(store)],
                          cwd=SCRATCH, **streams)


def _intakes(store: Path) -> int:
    return run_cli("list", "--db", str(store), "--format", "json").json["total"]


def test_a_save_followed_by_a_closed_standard_output_says_it_was_saved(tmp_path, answers_file):
    answers, store = answers_file({"pain_score": 3}), tmp_path / "s.db"
    closed = _assess_save(tmp_path, answers, store, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          preexec_fn=lambda: os.close(1))
    assert closed.returncode == 8, closed.stderr
    assert "intake 1 version 1 WAS saved" in closed.stderr and "Traceback" not in closed.stderr
    assert _intakes(store) == 1


def test_a_save_followed_by_a_full_disk_on_output_says_it_was_saved(tmp_path, answers_file):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    answers, store = answers_file({"pain_score": 3}), tmp_path / "s.db"
    with open("/dev/full", "w") as full:
        done = _assess_save(tmp_path, answers, store, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 8 and "no space left" in done.stderr and "WAS saved" in done.stderr
    assert _intakes(store) == 1


def test_a_save_with_standard_error_closed_still_exits_0(tmp_path, answers_file):
    answers, store = answers_file({"pain_score": 3}), tmp_path / "s.db"
    done = _assess_save(tmp_path, answers, store, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                        preexec_fn=lambda: os.close(2))
    assert done.returncode == 0 and "Pre-consultation triage" in done.stdout
    assert _intakes(store) == 1


def test_output_that_cannot_be_written_without_a_save_is_its_own_exit_code(tmp_path, answers_file):
    done = subprocess.run([*TRIAGE, "assess", answers_file({})], cwd=SCRATCH,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(1))
    assert done.returncode == 74 and done.stderr.startswith("error: triage assess: output: standard output cannot be written")


# --- 5. kill -9 of a batch ----------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_kill_9_of_a_batch_ends_its_workers_and_the_next_run_removes_its_leftovers(tmp_path):
    from test_batch import _start_big_batch, read_records

    process, out = _start_big_batch(tmp_path)
    workers = _children(process.pid)
    assert workers
    leftover = list(tmp_path.glob(".out.jsonl.*.tmp"))
    process.kill()
    process.communicate()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _running(pid)], "workers outlived their parent"
    assert leftover and all(path.exists() for path in leftover)

    small = tmp_path / "small.jsonl"
    small.write_text('{"pain_score": 1}\n', encoding="utf-8")
    again = subprocess.run([*TRIAGE, "batch", str(small), "--out", str(out),
                            "--workers", "1"], cwd=SCRATCH, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"note: removed {leftover[0]}, left by an earlier run that was killed" in again.stderr
    assert not list(tmp_path.glob(".out.jsonl.*.tmp"))
    assert len(read_records(out)) == 1


def test_a_killed_atomic_write_leaves_nothing_behind_after_the_next_write(tmp_path):
    from triage.core.files import write_atomic

    target = tmp_path / "visit.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".visit.json.{dead.stdout.strip()}.tmp"
    stale.write_text("{half", encoding="utf-8")
    write_atomic(target, "{}\n")
    assert not stale.exists() and target.read_text() == "{}\n"
