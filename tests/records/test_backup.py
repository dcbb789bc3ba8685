"""`triage db backup` and `triage db restore`: a consistent, checked copy taken while another process
writes intakes, restored and verified, on SQLite and on PostgreSQL (a real throwaway cluster: under
CI=true it must run, never skip)."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from support.cli import TRIAGE, installed_env
from support.postgres import Raw

EXAMPLES = [str(ROOT / "examples" / name) for name in ("red-flag.json", "adjacent-tear.json", "records-missing.json")]

# Another process writing intakes in a loop (assess --save, the coordinator's path), one line on
# standard output after each, until the file STOP exists.
WRITER = """
import os, sys
from triage.channels.cli.main import main
db, stop, examples = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
with open(os.devnull, "w") as null:
    while not os.path.exists(stop):
        code = main(["assess", examples[n % len(examples)], "--save", "--db", db, "--user", "writer"], out=null, err=sys.stderr)
        assert code == 0, code
        n += 1
        print(n, flush=True)
"""


def triage(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*TRIAGE, *args], cwd=cwd, env=installed_env(), capture_output=True, text=True,
                          input=stdin, timeout=300)


def head_of(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("head: ")]
    assert len(lines) == 1, output
    return lines[0].removeprefix("head: ")


def audit_chain(location) -> list[str]:
    raw = Raw(str(location) if isinstance(location, Path) else location)
    try:
        return [row[0] for row in raw.execute("SELECT hash FROM audit ORDER BY seq").fetchall()]
    finally:
        raw.close()


@pytest.fixture
def restore_target(request, tmp_path, store_location):
    """Where a backup of ``store_location`` is restored: a new file, or a new empty database."""
    if isinstance(store_location, Path):
        return tmp_path / "restored" / "triage.db"
    return request.getfixturevalue("postgres_cluster").new_database()


def test_a_backup_taken_while_another_process_writes_restores_and_verifies(tmp_path, store_location, restore_target):
    db = str(store_location)
    stop = tmp_path / "STOP"
    backup = tmp_path / "backup.copy"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db, str(stop), *EXAMPLES], cwd=tmp_path,
                              env=installed_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        before = 0
        while before < 5:  # the writer is under way (its own lines say so: no sleeping)
            before = int(writer.stdout.readline())
        taken = triage("db", "backup", str(backup), "--db", db, cwd=tmp_path)
        after = int(writer.stdout.readline())  # still writing once the backup is done
        while after < before + 5:
            after = int(writer.stdout.readline())
    finally:
        stop.touch()
        writer.communicate(timeout=120)
    assert writer.returncode == 0, writer.stderr
    assert taken.returncode == 0, taken.stderr
    head = head_of(taken.stdout)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600

    # The copy is the store as of one moment: its chain is exactly a beginning of the store's chain.
    chain = audit_chain(store_location)
    assert head in chain
    covered = chain.index(head) + 1
    assert before <= covered < len(chain)  # it has what was written before it, not what came after

    restored = triage("db", "restore", str(backup), "--db", str(restore_target), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert head_of(restored.stdout) == head
    verified = triage("audit", "verify", "--db", str(restore_target), cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert head_of(verified.stdout) == head
    assert audit_chain(restore_target) == chain[:covered]


def test_a_backup_never_overwrites_a_file(tmp_path, store_location):
    assert triage("assess", EXAMPLES[0], "--save", "--db", str(store_location), cwd=tmp_path).returncode == 0
    existing = tmp_path / "monday.copy"
    existing.write_text("last week's backup")
    run = triage("db", "backup", str(existing), "--db", str(store_location), cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == f"error: triage db backup: {existing}: exists; a backup never overwrites a file: give a new file name\n"
    assert existing.read_text() == "last week's backup"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no scratch file left


def test_restore_checks_the_copy_before_touching_anything(tmp_path, store_location, restore_target):
    db = str(store_location)
    for example in EXAMPLES:
        assert triage("assess", example, "--save", "--db", db, cwd=tmp_path).returncode == 0
    backup = tmp_path / "backup.copy"
    assert triage("db", "backup", str(backup), "--db", db, cwd=tmp_path).returncode == 0
    # Someone with the database's own tools edits a recorded answer in the copy.
    if isinstance(store_location, Path):
        raw = Raw(str(backup))
        raw.drop_guards()
        raw.execute("UPDATE versions SET answers = replace(answers, '\"yes\"', '\"no\"') WHERE intake_id = 1")
        raw.close()
    else:  # a damaged dump: pg_restore --list cannot read it (its content is checked after restoring)
        backup.write_bytes(backup.read_bytes()[:200])
    run = triage("db", "restore", str(backup), "--db", str(restore_target), cwd=tmp_path)
    if isinstance(store_location, Path):
        assert run.returncode == 7, run.stderr
        assert "error: triage db restore: audit: " in run.stderr and f"error: triage db restore: {backup}: the copy fails its audit check; nothing was restored" in run.stderr
        assert not Path(restore_target).exists()  # nothing was created
        assert sorted(p.name for p in Path(restore_target).parent.glob(".*")) == []
    else:
        assert run.returncode == 2, run.stderr
        assert run.stderr == f"error: triage db restore: {backup}: is not a triage backup made by pg_dump --format=custom\n"
        assert Raw(str(restore_target)).tables() == []


def test_restore_replaces_a_store_that_holds_anything_only_when_told(tmp_path, store_location, restore_target):
    db, target = str(store_location), str(restore_target)
    assert triage("assess", EXAMPLES[0], "--save", "--db", db, cwd=tmp_path).returncode == 0
    backup = tmp_path / "backup.copy"
    head = head_of(triage("db", "backup", str(backup), "--db", db, cwd=tmp_path).stdout)
    for example in EXAMPLES[1:]:
        assert triage("assess", example, "--save", "--db", target, cwd=tmp_path).returncode == 0
    before = audit_chain(restore_target)

    refused = triage("db", "restore", str(backup), "--db", target, cwd=tmp_path)
    assert refused.returncode == 2
    assert "already holds" in refused.stderr and "--force" in refused.stderr and refused.stderr.count("\n") == 1
    assert audit_chain(restore_target) == before

    forced = triage("db", "restore", str(backup), "--db", target, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert head_of(forced.stdout) == head
    assert audit_chain(restore_target) == audit_chain(store_location)
    listed = triage("list", "--db", target, "--format", "json", cwd=tmp_path)
    assert listed.returncode == 0 and len(__import__("json").loads(listed.stdout)["intakes"]) == 1


def test_backup_of_no_store_creates_nothing(tmp_path):
    run = triage("db", "backup", str(tmp_path / "copy.db"), "--db", str(tmp_path / "typo.db"), cwd=tmp_path)
    assert run.returncode == 5
    assert run.stderr == f"error: triage db backup: store: {tmp_path / 'typo.db'}: no store there (check --db or TRIAGE_DB)\n"
    assert list(tmp_path.iterdir()) == []


def test_the_sqlite_copy_is_one_private_file_under_a_loose_umask(tmp_path):
    db = tmp_path / "triage.db"
    assert triage("assess", EXAMPLES[0], "--save", "--db", str(db), cwd=tmp_path).returncode == 0
    copy = tmp_path / "copy.db"
    old = os.umask(0)
    try:
        run = triage("db", "backup", str(copy), "--db", str(db), cwd=tmp_path)
    finally:
        os.umask(old)
    assert run.returncode == 0, run.stderr
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert not copy.with_name("copy.db-wal").exists()
    connection = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # no -wal file needed beside it
    connection.close()


def test_a_backup_into_a_folder_is_named_by_its_utc_time(tmp_path):
    from triage.records.backup import backup_name
    import datetime

    assert backup_name(False, datetime.datetime(2026, 12, 6, 2, 30, 5, tzinfo=datetime.timezone.utc)) == \
        "triage-2026-12-06T023005Z.db"
    assert backup_name(True).endswith(".dump")
    db = tmp_path / "triage.db"
    assert triage("assess", EXAMPLES[0], "--save", "--db", str(db), cwd=tmp_path).returncode == 0
    folder = tmp_path / "backups"
    folder.mkdir()
    run = triage("db", "backup", str(folder), "--db", str(db), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (copy,) = folder.iterdir()
    assert re.fullmatch(r"triage-\d{4}-\d\d-\d\dT\d{6}Z\.db", copy.name)
    assert f"ok: backup written to {copy}:" in run.stdout
    # A second copy within the same second gets its own name; the first is never overwritten.
    from triage.records.backup import free_name

    moment = datetime.datetime(2026, 12, 6, 2, 30, 5, tzinfo=datetime.timezone.utc)
    assert free_name(folder, False, moment).name == "triage-2026-12-06T023005Z.db"
    (folder / "triage-2026-12-06T023005Z.db").touch()
    assert free_name(folder, False, moment).name == "triage-2026-12-06T023005Z-2.db"
    (folder / "triage-2026-12-06T023005Z-2.db").touch()
    assert free_name(folder, False, moment).name == "triage-2026-12-06T023005Z-3.db"


def test_a_folder_that_does_not_exist_is_not_taken_for_a_file_name(tmp_path):
    db = tmp_path / "triage.db"
    assert triage("assess", EXAMPLES[0], "--save", "--db", str(db), cwd=tmp_path).returncode == 0
    run = triage("db", "backup", f"{tmp_path}/backups/", "--db", str(db), cwd=tmp_path)
    assert (run.returncode, run.stderr) == (2, f"error: triage db backup: {tmp_path}/backups/: no such folder\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triage.db"]


def test_a_store_that_fails_its_check_is_still_copied_and_says_so(tmp_path, store_location):
    db = str(store_location)
    for example in EXAMPLES:
        assert triage("assess", example, "--save", "--db", db, cwd=tmp_path).returncode == 0
    raw = Raw(db)
    raw.drop_guards()
    raw.execute("UPDATE versions SET status = 'ready_for_evaluation' WHERE intake_id = 1")
    raw.close()
    backup = tmp_path / "evidence.copy"
    run = triage("db", "backup", str(backup), "--db", db, cwd=tmp_path)
    assert run.returncode == 7 and run.stdout == ""
    assert run.stderr.startswith(f"error: triage db backup: {backup}: the copy was written, but the store it copies fails its audit check")
    assert "error: triage db backup: audit: " in run.stderr and backup.exists()  # kept for the investigation


def test_a_tampered_dump_is_named_after_restoring_it(tmp_path, postgres_cluster):
    """PostgreSQL: a dump's content is checked by restoring it; the restore says the result must not be used."""
    cluster = postgres_cluster
    source, scratch, target = cluster.new_database(), cluster.new_database(), cluster.new_database()
    for example in EXAMPLES:
        assert triage("assess", example, "--save", "--db", source, cwd=tmp_path).returncode == 0
    good = tmp_path / "good.dump"
    assert triage("db", "backup", str(good), "--db", source, cwd=tmp_path).returncode == 0
    assert triage("db", "restore", str(good), "--db", scratch, cwd=tmp_path).returncode == 0
    raw = Raw(scratch)
    raw.drop_guards()
    raw.execute("UPDATE versions SET status = 'ready_for_evaluation' WHERE intake_id = 1")
    raw.close()
    tampered = tmp_path / "tampered.dump"
    from triage.records.backup import PG_DUMP_FLAGS

    dumped = subprocess.run(["pg_dump", *PG_DUMP_FLAGS, f"--file={tampered}", f"--dbname={scratch}"],
                            capture_output=True, text=True, env=installed_env())
    assert dumped.returncode == 0, dumped.stderr
    run = triage("db", "restore", str(tampered), "--db", target, cwd=tmp_path)
    assert run.returncode == 7
    assert "the restored store fails its audit check (the copy was damaged or altered): do not use it" in run.stderr
