"""(3) and (4) Batch throughput and peak memory, against the floor pipeline, measured in one run.

For each size: generate seeded intakes (every status, one broken line per 1000), run
`triage batch IN --out OUT` and the floor pipeline (benchmarks/floor_batch.py: the same batch
machinery without the rules) as fresh processes, and print lines/s, wall time, peak memory of the
whole process tree (parent + workers) and the ratio batch/floor. Median of `--repeat` runs.
Targets (reported, never asserted): throughput >= 1/5 of the floor's; 100k intakes in <= 20 s;
peak memory < 200 MB at 100k. It also checks what the issue checks: as many output lines as input
lines, and counts per status that add up.

    python benchmarks/bench_batch.py [--sizes 10000,100000] [--workers N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import generate
from _measure import CLI, PYTHON, load, run_measured, verdict

FLOOR = [PYTHON, str(Path(__file__).resolve().parent / "floor_batch.py")]
TARGET_FLOOR_SHARE = 1 / 5
TARGET_100K_SECONDS = 20.0
TARGET_PEAK_MB = 200.0


def _check_output(path: Path, lines: int) -> Counter:
    counts: Counter = Counter()
    with open(path, "rb") as output:
        for number, line in enumerate(output, 1):
            record = json.loads(line)
            assert record["line"] == number, f"record {number} says line {record['line']}"
            counts[record.get("status") or record["error"]] += 1
    assert sum(counts.values()) == lines, f"{sum(counts.values())} records for {lines} lines"
    return counts


def _median_run(command: list[str], repeat: int) -> dict:
    runs = [run_measured(command) for _ in range(repeat)]
    for run in runs:
        assert run["code"] == 0, f"{command} exited {run['code']}"
    best = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    best["tree_rss_mb"] = max(run["tree_rss_mb"] for run in runs)
    best["tree_pss_mb"] = max(run["tree_pss_mb"] for run in runs)
    return best


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated line counts")
    parser.add_argument("--workers", type=int, help="passed to both pipelines (default: theirs, the CPUs)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    parser.add_argument("--keep", help="folder to keep the generated files in (default: a temporary one)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    workers = ["--workers", str(args.workers)] if args.workers else []
    figures = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.keep or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"batch throughput, median of {args.repeat} run(s); {load()}")
        for size in sizes:
            source = folder / f"intakes-{size}.jsonl"
            with open(source, "w", encoding="utf-8") as out:
                generate.write(out, size, seed=size)
            batch = _median_run(CLI + ["batch", str(source), "--out", str(folder / "out.jsonl"), *workers], args.repeat)
            counts = _check_output(folder / "out.jsonl", size)
            floor = _median_run(FLOOR + [str(source), "--out", str(folder / "floor.jsonl"), *workers], args.repeat)
            share = floor["seconds"] / batch["seconds"]
            figures[size] = {"batch": batch, "floor": floor, "share_of_floor": share, "counts": dict(counts)}
            print(f"  {size:,} intakes (output lines = input lines; {dict(sorted(counts.items()))})")
            for name, run in (("triage batch", batch), ("floor pipeline", floor)):
                largest = f", largest process {run['largest_process_mb']:.0f} MB" if run["largest_process_mb"] else ""
                print(f"    {name:15} {run['seconds']:6.2f} s  {size / run['seconds']:7,.0f} lines/s  "
                      f"CPU {run['cpu_seconds'] / size * 1e6:4.0f} us/line  peak RSS {run['tree_rss_mb']:.0f} MB "
                      f"(PSS {run['tree_pss_mb']:.0f} MB) all processes{largest}")
            cpu_share = floor["cpu_seconds"] / batch["cpu_seconds"]
            print(f"    batch throughput = {share:.2f} of the floor's ({verdict(share >= TARGET_FLOOR_SHARE)} "
                  f">= {TARGET_FLOOR_SHARE:.2f}); by CPU time {cpu_share:.2f}")
            if size >= 100_000:
                per_100k = batch["seconds"] * 100_000 / size
                # What the same CPU work takes when every CPU is free for it (no other load).
                idle = batch["cpu_seconds"] * 100_000 / size / min(os.cpu_count() or 1, args.workers or os.cpu_count() or 1)
                print(f"    100k intakes in {per_100k:.1f} s ({verdict(per_100k <= TARGET_100K_SECONDS)} "
                      f"<= {TARGET_100K_SECONDS:.0f} s; {idle:.1f} s if its CPU time had every CPU to itself); "
                      f"peak RSS {batch['tree_rss_mb']:.0f} MB ({verdict(batch['tree_rss_mb'] < TARGET_PEAK_MB)} "
                      f"< {TARGET_PEAK_MB:.0f} MB)")
        print(f"  after: {load()}")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
