"""`triage batch`: one record per input line, same order, error records for broken lines, results
identical to `triage assess`, Ctrl-C leaves a valid truncated output, bad files exit 2."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from support.cli import SCRATCH, TRIAGE

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # noqa: E402

from triage.channels import batch  # noqa: E402
from triage.core.errors import EngineError  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402

STATUSES = {"urgent", "too_early", "records_needed", "ready_for_evaluation"}


def write_lines(path: Path, lines: list[str], end: str = "\n") -> str:
    path.write_text("".join(line + end for line in lines), encoding="utf-8")
    return str(path)


def read_records(path) -> list[dict]:
    with open(path, encoding="utf-8") as output:
        return [json.loads(line) for line in output]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """120 generated intakes of every status with a broken line every 20 (6 broken: each kind)."""
    folder = tmp_path_factory.mktemp("batch")
    path = folder / "in.jsonl"
    write_lines(path, list(generate.lines(120, seed=5, broken_every=20)))
    return path


def test_one_record_per_line_in_order_with_error_records(generated, tmp_path):
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", str(generated), "--out", str(out), "--workers", "1")
    assert run.code == 0, run.err
    records = read_records(out)
    inputs = generated.read_text(encoding="utf-8").splitlines()
    assert len(records) == len(inputs) == 120
    assert [record["line"] for record in records] == list(range(1, 121))
    errors = {record["line"]: record for record in records if "errors" in record}
    assert sorted(errors) == [20, 40, 60, 80, 100, 120]
    assert all(record["error"] == "invalid_input" for record in errors.values())
    fields = {line: [e["field"] for e in record["errors"]] for line, record in errors.items()}
    assert fields == {
        20: ["answers"],  # truncated JSON
        40: ["answers"],  # not an object
        60: ["answers"],  # blank line
        80: ["fusion_dat"],  # unknown key
        100: ["pain_location", "pain_score"],
        120: ["fusion_date"],  # 2026-02-30
    }
    assert "column" in errors[20]["errors"][0]["message"] and "line 1" not in errors[20]["errors"][0]["message"]
    assert "did you mean 'fusion_date'" in errors[80]["errors"][0]["message"]
    results = [record for record in records if "status" in record]
    assert {record["status"] for record in results} == STATUSES
    assert all(record["patient_id"] == f"SYN-{record['line']:07d}" or record["patient_id"] is None
               for record in results)
    # The summary's counts add up to the lines and match the output.
    counts = {status: sum(record.get("status") == status for record in records) for status in STATUSES}
    for status, count in counts.items():
        assert f"│ {status}" in run.out and f" {count} │" in run.out
    assert sum(counts.values()) + len(errors) == 120
    assert "│ invalid_input        │     6 │" in run.out
    assert "│ total                │   120 │" in run.out


def test_results_are_those_of_assess(generated, tmp_path):
    out = tmp_path / "out.jsonl"
    assert run_cli("batch", str(generated), "--out", str(out), "--workers", "1").code == 0
    records = read_records(out)
    lines = generated.read_text(encoding="utf-8").splitlines()
    for record in records[:30]:
        if "errors" in record:
            continue
        answers = tmp_path / "one.json"
        answers.write_text(lines[record["line"] - 1], encoding="utf-8")
        single = run_cli("assess", str(answers), "--format", "json")
        assert single.code == 0, single.err
        line = record.pop("line")
        assert record.pop("patient_id") == json.loads(lines[line - 1]).get("patient_id")
        assert record == single.json, f"line {line}"


def test_as_of_applies_to_every_line_as_in_assess(tmp_path, answers_file):
    answers = {"fusion_date": "2026-09", "assessment_date": "2026-10-01"}
    source = write_lines(tmp_path / "in.jsonl", [json.dumps(answers)])
    out = tmp_path / "out.jsonl"
    assert run_cli("batch", source, "--out", str(out), "--as-of", "2027-06-01").code == 0
    record = read_records(out)[0]
    single = run_cli("assess", answers_file(answers), "--format", "json", "--as-of", "2027-06-01").json
    assert record["assessment_date"] == single["assessment_date"] == "2027-06-01"
    assert record["status"] == single["status"]


def test_one_worker_and_two_workers_write_the_same_bytes(generated, tmp_path):
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out-{workers}.jsonl"
        assert run_cli("batch", str(generated), "--out", str(out), "--workers", workers).code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_chunks_smaller_than_the_input_keep_order_across_workers(generated):
    config = batch.BatchConfig(load_ruleset(), load_settings(), date(2026, 11, 24))
    serial, parallel = io.BytesIO(), io.BytesIO()
    with open(generated, "rb") as source:
        batch.run_batch(source, serial, config, workers=1)
    with open(generated, "rb") as source:
        summary = batch.run_batch(source, parallel, config, workers=2, chunk_lines=7)
    assert parallel.getvalue() == serial.getvalue()
    assert summary.lines == 120 and sum(summary.counts.values()) == 120


def test_line_endings_long_lines_and_a_last_line_without_newline(tmp_path):
    good = json.dumps({"fusion_date": "2024-03", "assessment_date": "2026-11-24"})
    path = tmp_path / "in.jsonl"
    path.write_bytes(good.encode() + b"\r\n" + b'{"patient_id": "' + b"x" * (1024 * 1024) + b'"}\n'
                     + b"\xff\xfe\n" + good.encode())
    out = tmp_path / "out.jsonl"
    assert run_cli("batch", str(path), "--out", str(out)).code == 0
    records = read_records(out)
    assert [r.get("status") or r["error"] for r in records] == [
        "records_needed", "invalid_input", "invalid_input", "records_needed"]
    assert "longer than 1 MiB" in records[1]["errors"][0]["message"]
    assert "not UTF-8" in records[2]["errors"][0]["message"]


def test_empty_input_gives_empty_output(tmp_path):
    source = tmp_path / "empty.jsonl"
    source.write_bytes(b"")
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", str(source), "--out", str(out))
    assert run.code == 0, run.err
    assert out.read_bytes() == b""
    assert "│ total                │     0 │" in run.out


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_unreadable_input_exits_2_and_writes_nothing(tmp_path, make):
    source = tmp_path / "in.jsonl"
    if make == "folder":
        source.mkdir()
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", str(source), "--out", str(out))
    assert run.code == 2
    expected = "is a folder, not a JSONL file of answers" if make == "folder" else "cannot be read (no such file or directory)"
    assert run.err == f"error: triage batch: {source}: {expected}\n"
    assert not out.exists() and list(tmp_path.iterdir()) == ([source] if make == "folder" else [])


def test_out_cannot_be_the_input_or_a_folder(generated, tmp_path):
    before = generated.read_bytes()
    run = run_cli("batch", str(generated), "--out", str(generated))
    assert run.code == 2 and "is the input file" in run.err
    assert generated.read_bytes() == before
    run = run_cli("batch", str(generated), "--out", str(tmp_path))
    assert run.code == 2 and "is a folder" in run.err
    run = run_cli("batch", str(generated), "--out", "-")
    assert run.code == 2 and run.err.startswith("error: triage batch: --out: needs a file name")
    assert not Path("-").exists()


def test_broken_settings_exit_3_before_writing(generated, tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text("healing_window_months = 0\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", str(generated), "--out", str(out), "--settings", str(settings))
    assert run.code == 3 and "healing_window_months" in run.err
    assert not out.exists()


def test_engine_failure_on_a_line_is_recorded_and_exits_4(tmp_path, monkeypatch):
    import triage.decision.batch_json

    real = triage.decision.batch_json.assess_record

    def failing(answers, ruleset, settings):
        if answers.patient_id == "BAD":
            raise EngineError("a red flag was answered yes but the result is not urgent")
        return real(answers, ruleset, settings)

    monkeypatch.setattr(triage.decision.batch_json, "assess_record", failing)
    source = write_lines(tmp_path / "in.jsonl", ['{"patient_id": "A"}', '{"patient_id": "BAD"}', '{}'])
    out = tmp_path / "out.jsonl"
    run = run_cli("batch", source, "--out", str(out), "--workers", "1")
    assert run.code == 4
    records = read_records(out)
    assert [r.get("status") or r["error"] for r in records] == ["records_needed", "engine", "records_needed"]
    assert records[1]["patient_id"] == "BAD" and records[1]["errors"][0]["field"] == "engine"


@pytest.mark.parametrize("workers", [1, 2])
def test_stopping_between_chunks_keeps_finished_lines_and_says_where(generated, workers):
    config = batch.BatchConfig(load_ruleset(), load_settings(), date(2026, 11, 24))
    sink = io.BytesIO()
    written = []  # the stop is asked for once 25 lines are written, as a person would press Ctrl-C

    with open(generated, "rb") as source:
        summary = batch.run_batch(source, sink, config, workers=workers, chunk_lines=10,
                                  should_stop=lambda: bool(written) and written[-1] >= 25,
                                  on_progress=lambda summary: written.append(summary.lines))
    lines = sink.getvalue().decode().splitlines()
    records = [json.loads(line) for line in lines]
    stop = records.pop()
    assert stop == {"stopped_at_line": len(records) + 1, "reason": "interrupted", "lines_done": len(records)}
    assert [record["line"] for record in records] == list(range(1, len(records) + 1))
    assert 0 < len(records) < 120 and summary.stopped_at_line == len(records) + 1


def _start_big_batch(tmp_path):
    source = tmp_path / "big.jsonl"
    block = "".join(line + "\n" for line in generate.lines(400, seed=3))
    source.write_text(block * 100, encoding="utf-8")  # 40,000 lines: far more than the test waits for
    out = tmp_path / "out.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    process = subprocess.Popen(
        [*TRIAGE, "batch", str(source), "--out", str(out), "--workers", "2"],
        cwd=SCRATCH, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    # Press Ctrl-C once the first records are written (the output grows beside its final name).
    deadline = time.monotonic() + 60
    while not any(part.stat().st_size for part in tmp_path.glob(".out.jsonl.*.tmp")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.05)
    return process, out


def test_ctrl_c_leaves_a_valid_truncated_output(tmp_path):
    process, out = _start_big_batch(tmp_path)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    records = read_records(out)  # every line is complete JSON
    stop = records.pop()
    done = len(records)
    assert 0 < done < 40_000
    assert stop == {"stopped_at_line": done + 1, "reason": "interrupted", "lines_done": done}
    assert [record["line"] for record in records] == list(range(1, done + 1))
    assert f"stopped at line {done + 1:,} (interrupted)" in stdout
    assert not list(tmp_path.glob(".out.jsonl.*.tmp"))


def test_ctrl_c_pressed_three_times_stops_at_once_without_a_hang(tmp_path):
    process, out = _start_big_batch(tmp_path)
    for _ in range(3):
        process.send_signal(signal.SIGINT)
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert not list(tmp_path.glob(".out.jsonl.*.tmp"))
    if out.exists():  # the presses may land after the truncated output was already in place
        assert read_records(out)[-1]["reason"] == "interrupted"
    else:
        assert "stopped at once without writing" in stderr


def test_benchmark_scripts_run_with_tiny_sizes(tmp_path):
    """Not a measurement: keeps the benchmark scripts from rotting."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    scripts = [
        ["bench_startup.py", "--runs", "1"],
        ["bench_engine.py", "--intakes", "40", "--repeat", "1"],
        ["bench_batch.py", "--sizes", "300", "--workers", "2"],
        ["generate.py", "5", "--broken-every", "2", "--out", str(tmp_path / "five.jsonl")],
        ["bench_intake.py", "1"],
        ["bench_store.py", "--intakes", "20", "--large", "200", "--small", "20"],
        ["bench_staff.py", "--intakes", "120", "--small", "60", "--runs", "1", "--backend", "sqlite"],
        ["bench_writes.py", "--seconds", "0.3", "--backend", "sqlite"],
    ]
    for script, *args in scripts:
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, (script, done.stderr)
        assert "Traceback" not in done.stderr
    assert len((tmp_path / "five.jsonl").read_text().splitlines()) == 5


def _dies_on_line_30(number, data, config):
    if number == 30:
        os.kill(os.getpid(), signal.SIGKILL)  # as when durable_rules segfaults
    return batch.triage_line(number, data, config)


def test_a_worker_that_dies_ends_the_output_with_a_stop_record(generated):
    config = batch.BatchConfig(load_ruleset(), load_settings(), date(2026, 11, 24))
    sink = io.BytesIO()
    with open(generated, "rb") as source:
        summary = batch.run_batch(source, sink, config, workers=2, chunk_lines=10, line_function=_dies_on_line_30)
    records = [json.loads(line) for line in sink.getvalue().decode().splitlines()]
    stop = records.pop()
    assert stop["reason"] == "worker_failed" and stop["stopped_at_line"] == len(records) + 1 <= 30
    assert [record["line"] for record in records] == list(range(1, len(records) + 1))
    assert summary.stop_reason == "worker_failed"


def test_workers_are_never_forked_from_a_process_running_the_engine(tmp_path):
    """durable's timer threads make fork unsafe: once the engine runs here, workers are spawned."""
    fresh = subprocess.run([sys.executable, "-c", "from triage.channels import batch; print(batch._context().get_start_method())"],
                           cwd=SCRATCH, capture_output=True, text=True, timeout=60)
    assert fresh.stdout.strip() == "fork"
    run_cli("assess", str(ROOT / "examples" / "red-flag.json"), "--format", "json")  # the engine is running now
    assert batch._context().get_start_method() == "spawn"


# --- `--shard I/N`: one part of a file on each machine -------------------------------------------

def _merge_by_line(*outputs: Path) -> bytes:
    """What docs/terminal.md tells people to do with the parts' outputs: merge them by line number."""
    import heapq

    streams = [output.read_bytes().splitlines(keepends=True) for output in outputs]
    return b"".join(heapq.merge(*streams, key=lambda record: json.loads(record)["line"]))


@pytest.mark.parametrize("parts", [2, 3])
def test_shards_of_a_file_are_disjoint_and_merge_into_the_whole_output(generated, tmp_path, parts):
    whole = tmp_path / "whole.jsonl"
    assert run_cli("batch", str(generated), "-o", str(whole), "--workers", "1").code == 0
    outputs = []
    for index in range(1, parts + 1):
        out = tmp_path / f"part{index}.jsonl"
        done = run_cli("batch", str(generated), "-o", str(out), "--workers", "2", "--shard", f"{index}/{parts}")
        assert done.code == 0, done.err
        outputs.append(out)
    numbers = [[record["line"] for record in read_records(out)] for out in outputs]
    assert all(numbers), "every part takes some lines"
    assert all(part == sorted(part) for part in numbers)  # each part in input order
    count = len(generated.read_bytes().splitlines())
    assert sorted(n for part in numbers for n in part) == list(range(1, count + 1))  # each line in one part
    assert _merge_by_line(*outputs) == whole.read_bytes()


def test_a_line_goes_to_the_same_shard_wherever_it_is_in_the_file(generated, tmp_path):
    """The part is chosen by the line's content: a file re-ordered (or copied later, with lines
    added in front) gives each line the same part, so no line falls between the machines."""
    lines = generated.read_text(encoding="utf-8").splitlines()
    turned = tmp_path / "turned.jsonl"
    write_lines(turned, ['{"patient_id": "NEW"}', *reversed(lines)])
    taken = {}
    for name, path in (("original", generated), ("turned", turned)):
        out = tmp_path / f"{name}-part1.jsonl"
        assert run_cli("batch", str(path), "-o", str(out), "--workers", "1", "--shard", "1/2").code == 0
        source = path.read_text(encoding="utf-8").splitlines()
        taken[name] = {source[record["line"] - 1].strip() for record in read_records(out)} - {'{"patient_id": "NEW"}'}
    assert taken["original"] == taken["turned"]


@pytest.mark.parametrize("value", ["0/2", "3/2", "1/0", "2", "a/b", "", "1/2/3", "1/x"])
def test_a_bad_shard_value_gives_one_clear_line_and_exit_2(tmp_path, value):
    source = write_lines(tmp_path / "in.jsonl", ['{"patient_id": "A"}'])
    done = run_cli("batch", source, "-o", str(tmp_path / "out.jsonl"), "--shard", value)
    assert done.code == 2
    assert done.err.count("\n") == 1 and "--shard" in done.err and ("I/N" in done.err or "must be" in done.err)
    assert "Traceback" not in done.err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_stopped_shard_says_which_input_line_it_stopped_at(generated):
    lines = generated.read_bytes()
    source, sink = io.BytesIO(lines), io.BytesIO()
    config = batch.BatchConfig(load_ruleset(), load_settings(), date(2026, 11, 24))
    calls = []

    def stop_after_first_chunk() -> bool:
        calls.append(1)
        return len(calls) > 1

    shard = batch.Shard.parse("2/2")
    summary = batch.run_batch(source, sink, config, workers=1, chunk_lines=10, should_stop=stop_after_first_chunk,
                              shard=shard)
    records = [json.loads(line) for line in sink.getvalue().splitlines()]
    done, stop = records[:-1], records[-1]
    assert len(done) == 10 and stop["lines_done"] == 10
    assert stop["stopped_at_line"] == done[-1]["line"] + 1 == summary.stopped_at_line
