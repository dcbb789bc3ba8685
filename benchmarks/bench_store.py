"""Figures for the intake store. Prints numbers; asserts nothing (tests never time anything).

    python benchmarks/bench_store.py [--intakes 1000] [--large 100000] [--small 1000]

- save: recorded assessments per second with synchronous=FULL (one transaction, fsync, per save),
  against the same inserts with synchronous=OFF measured in the same run (the price of durability);
- list / audit verify / show-read over a store of N intakes;
- start-up of `triage list` against `triage rules` (the existing catalogue command) in fresh processes;
- scale: `list`, each filter and `audit verify` on a store of --large intakes against the same
  commands on one of --small, built and measured in the same run (benchmarks/bench_scale.py);
  --large 0 skips it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from triage.records.store import open_store  # noqa: E402


def timed(action, repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - start) / repeat


def fresh_process(*args: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--intakes", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    options = parser.parse_args()
    count = options.intakes
    answers = json.loads((ROOT / "examples" / "adjacent-tear.json").read_text())
    result = json.loads(subprocess.run([sys.executable, str(ROOT / "cli.py"), "assess",
                                        str(ROOT / "examples" / "adjacent-tear.json"), "--format", "json"],
                                       capture_output=True, text=True, check=True).stdout)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        with open_store(db) as store:
            full = timed(lambda: store.record_assessment(answers, result, user="bench"), repeat=count)
            store._db.execute("PRAGMA synchronous = OFF")
            off = timed(lambda: store.record_assessment(answers, result, user="bench"), repeat=200)
            store._db.execute("PRAGMA synchronous = FULL")
            listing = timed(store.worklist, repeat=5)
            verify = timed(store.verify_audit, repeat=3)
            read = timed(lambda: (store.get(1), store.history(1)), repeat=200)
        size = db.stat().st_size
    print(f"save (synchronous=FULL): {full * 1000:.2f} ms each, {1 / full:.0f}/s "
          f"({full / off:.1f}x the unsafe synchronous=OFF baseline, {off * 1000:.2f} ms)")
    total = count + 200
    print(f"store of {total} intakes: {size / 1024 / 1024:.1f} MiB ({size / total / 1024:.1f} KiB per intake)")
    print(f"worklist of {total}: {listing * 1000:.1f} ms; audit verify: {verify * 1000:.0f} ms "
          f"({verify / total * 1e6:.0f} us per intake); read one intake + history: {read * 1000:.2f} ms")
    with tempfile.TemporaryDirectory() as folder:
        small = str(Path(folder) / "t.db")
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "list", "--db", small], capture_output=True)
        rules = fresh_process("rules", "--format", "json")
        listed = fresh_process("list", "--db", small)
    print(f"start-up, median of 5 fresh processes: triage list {listed * 1000:.0f} ms, "
          f"triage rules {rules * 1000:.0f} ms (list/rules = {listed / rules:.2f})")
    if options.large:
        import bench_scale

        bench_scale.compare(options.large, options.small)


if __name__ == "__main__":
    main()
