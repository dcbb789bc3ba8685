"""Reliability of the store under crashes and concurrent writers, and privacy of its errors.

- kill -9 at random moments while a process saves: the store reopens, passes integrity_check and the
  audit verification, and every intake the child acknowledged (it prints after commit) is there.
- two and eight processes writing at once lose nothing; amending the same version reports conflicts
  instead of overwriting.
- no answer value appears in the store's error output or audit log.

The default run keeps the trial counts small; `pytest -m slow` runs the long versions.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from triage.records import store as store_module
from triage.records.store import sqlite as store_sqlite
from triage.core.errors import Conflict, IntakeNotFound, StoreError
from triage.records.store import open_store

SECRET = "PT-SECRET-4711"
ANSWERS = {"patient_id": SECRET, "assessment_date": "2026-11-24", "fusion_date": "2019-07", "pain_score": 8,
           "fused_levels": ["L4-L5"], "red_flag_major_trauma": "unknown"}
VALUES = (SECRET, "2019-07", "L4-L5")  # answer values that must never leak

CHILD = r"""
import json, sys
from triage.records.store import open_store
from triage.core.errors import Conflict
db, mode, answers, result = sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5])
count = int(sys.argv[6]) if len(sys.argv) > 6 else 0
store = open_store(db)
print("ready", flush=True)
if mode != "save-forever":
    sys.stdin.readline()  # wait for "go": every process starts writing at the same moment
if mode == "save-forever":  # create and amend until killed
    last = None
    while True:
        if last and last[1] < 3:
            last = store.record_assessment(answers, result, user="child", intake_id=last[0], base_version=last[1])
        else:
            last = store.record_assessment(answers, result, user="child")
        print("ack", *last, flush=True)
elif mode == "create":
    for _ in range(count):
        print("ack", *store.record_assessment(answers, result, user="child"), flush=True)
elif mode == "amend-once":
    try:
        print("ok", *store.record_assessment(answers, result, user="child", intake_id=1, base_version=1), flush=True)
    except Conflict as error:
        print("conflict", flush=True)
        print(error, file=sys.stderr)
elif mode == "amend-loop":  # read the latest, amend it; a conflict means someone else got there first
    for _ in range(count):
        base = store.get(1).version
        try:
            print("ok", *store.record_assessment(answers, result, user="child", intake_id=1, base_version=base), flush=True)
        except Conflict as error:
            print("conflict", flush=True)
            print(error, file=sys.stderr)
"""


@pytest.fixture(scope="module")
def result() -> dict:
    # A real result for these answers, computed once (children never load the engine).
    path = Path(__file__).parents[1] / "_reliability_answers.json"
    path.write_text(json.dumps(ANSWERS))
    try:
        run = run_cli("assess", str(path), "--format", "json")
    finally:
        path.unlink()
    assert run.code == 0, run.err
    return run.json


def child(db: Path, mode: str, result: dict, count: int = 0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, "store-child", str(db), mode, json.dumps(ANSWERS), json.dumps(result), str(count)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_store_sound(db: Path, acknowledged: list[tuple[int, int]]) -> None:
    with open_store(db) as store:
        assert store._backend.integrity_problems(store._db) == []  # SQLite: PRAGMA integrity_check
        for intake, version in acknowledged:
            record = store.get(intake, version)
            assert record.answers == ANSWERS
        report = store.verify_audit()
        assert report.ok, report.problems


def kill_trials(tmp_path: Path, result: dict, trials: int, seed: int) -> int:
    """Kill a saving child ``trials`` times; after each kill the store must be sound. A store is
    reused for 5 kills (crash after crash), then a fresh one keeps each verification cheap."""
    rng = random.Random(seed)
    total = 0
    for trial in range(trials):
        db = tmp_path / f"crash-{trial // 5}" / "triage.db"
        process = child(db, "save-forever", result)
        seen = ""
        if trial % 2:
            # Every other trial kills once saving is under way (a loaded machine can take longer than
            # any fixed sleep to start the child, and then no trial would interrupt a save).
            while not (line := process.stdout.readline()).startswith("ack ") and line:
                seen += line
            seen += line
            time.sleep(rng.uniform(0.0, 0.05))
        else:
            time.sleep(rng.uniform(0.0, 0.2))  # sometimes during start-up or schema creation
        process.kill()  # SIGKILL: no cleanup, no atexit, no rollback
        out, err = process.communicate()
        out = seen + out
        assert not any(value in err for value in VALUES)
        # An acknowledgement is a whole line: a kill can cut the last one short (then it is not counted).
        whole_lines = out.split("\n")[:-1]
        acknowledged = [(int(a), int(b)) for _, a, b in (line.split() for line in whole_lines if line.startswith("ack "))]
        assert_store_sound(db, acknowledged)
        total += len(acknowledged)
    return total


def test_kill_9_during_saves_loses_no_acknowledged_intake(tmp_path, result):
    acknowledged = kill_trials(tmp_path, result, trials=20, seed=20261124)
    assert acknowledged > 0  # the trials did interrupt real saves, not only start-ups


@pytest.mark.slow
def test_kill_9_during_saves_many_trials(tmp_path, result):
    kill_trials(tmp_path, result, trials=300, seed=4711)


def run_together(db: Path, mode: str, result: dict, processes: int, count: int = 0) -> list[tuple[str, str]]:
    children = [child(db, mode, result, count) for _ in range(processes)]
    for process in children:
        assert process.stdout.readline().strip() == "ready"
    for process in children:
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=120) for process in children]
    for process, (_, err) in zip(children, outputs):
        assert process.returncode == 0, err
        assert not any(value in err for value in VALUES)
    return outputs


@pytest.mark.parametrize("processes", [2, 8])
def test_concurrent_writers_lose_nothing(store_location, result, processes):
    db = store_location
    open_store(db).close()
    outputs = run_together(db, "create", result, processes, count=10)
    acks = [tuple(map(int, line.split()[1:])) for out, _ in outputs for line in out.splitlines()]
    assert len(acks) == processes * 10 and len(set(acks)) == len(acks)
    assert_store_sound(db, acks)
    with open_store(db) as store:
        assert len(store.worklist()) == processes * 10


@pytest.mark.parametrize("processes", [2, 8])
def test_amending_the_same_version_at_once_reports_conflicts(store_location, result, processes):
    db = store_location
    with open_store(db) as store:
        store.record_assessment(ANSWERS, result, user="first")
    outputs = run_together(db, "amend-once", result, processes)
    verdicts = [out.split()[0] for out, _ in outputs]
    assert verdicts.count("ok") == 1 and verdicts.count("conflict") == processes - 1
    with open_store(db) as store:
        assert [v.version for v in store.history(1)] == [1, 2]
        assert store.verify_audit().ok


@pytest.mark.parametrize("processes", [2, 8])
def test_read_modify_write_loops_never_overwrite(store_location, result, processes):
    db = store_location
    with open_store(db) as store:
        store.record_assessment(ANSWERS, result, user="first")
    outputs = run_together(db, "amend-loop", result, processes, count=5)
    lines = [line.split() for out, _ in outputs for line in out.splitlines()]
    successes = [int(line[2]) for line in lines if line[0] == "ok"]
    assert len(lines) == processes * 5
    assert sorted(successes) == list(range(2, 2 + len(successes)))  # each success is its own version
    with open_store(db) as store:
        assert len(store.history(1)) == 1 + len(successes)
        assert store.verify_audit().ok


def test_no_answer_value_in_any_store_error(tmp_path, monkeypatch, result, answers_file):
    db = tmp_path / "triage.db"
    messages: list[str] = []
    with open_store(db) as store:
        intake, _ = store.record_assessment(ANSWERS, result, user="alice")
        store.record_assessment(ANSWERS, result, user="alice", intake_id=intake)
        draft = store.save_draft(ANSWERS, user="alice")
        for attempt in (
            lambda: store.record_assessment(ANSWERS, result, user="bob", intake_id=intake, base_version=1),
            lambda: store.save_draft(ANSWERS, user="bob", intake_id=draft.intake_id, expected_revision=7),
            lambda: store.record_assessment(ANSWERS, result, user="bob", intake_id=999),
            lambda: store.get(draft.intake_id),
        ):
            with pytest.raises((Conflict, IntakeNotFound)) as caught:
                attempt()
            messages.append(str(caught.value))
    # Busy, damaged and newer stores, through the CLI as a user sees them.
    monkeypatch.setattr(store_sqlite, "BUSY_TIMEOUT_SECONDS", 0.05)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        run = run_cli("assess", answers_file(ANSWERS), "--save", "--db", str(db), "--format", "json")
        assert run.code == 5 and "busy" in run.err
        messages.append(run.err)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x13" * 5000)
    run = run_cli("assess", answers_file(ANSWERS), "--amend", "1", "--db", str(broken))
    assert run.code == 5
    messages.append(run.err)
    run = run_cli("assess", answers_file(ANSWERS), "--amend", "1", "--base-version", "1", "--db", str(db))
    assert run.code == 6
    messages.append(run.err)
    raw = sqlite3.connect(db)
    audit_text = json.dumps(raw.execute("SELECT * FROM audit").fetchall())
    raw.close()
    for text in messages + [audit_text]:
        assert not any(value in text for value in VALUES), text
