"""The price of re-triage in `audit verify`: the checks it made before (chain, hashes, columns,
worklist, alerts, accounts, invitations) against the same with every version's answers triaged again,
on stores of --small and --large intakes, built and measured in the same run. Prints numbers and
ratios; asserts nothing (tests never time anything).

    python benchmarks/bench_verify.py [--small 1000] [--large 10000] [--distinct 2000]

Each store is built as bench_scale builds it (real results of the engine on seeded synthetic answers,
``--distinct`` different answer sets, recorded in chunks as `triage batch --save` does). Each
measurement runs in a fresh process (the ruleset loaded, no decision kept from before), median of 3.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code (as bench_scale)
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from triage.records.store import open_store
retriage = None
if sys.argv[3] == "retriage":
    from triage.decision.retriage import Retriage
    retriage = Retriage()
with open_store(sys.argv[2], for_reading=True) as store:
    report = store.verify_audit(retriage=retriage)
print(int(report.ok), report.retriaged)
"""


def measure(db: Path, mode: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(db), mode],
                              capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - started)
        ok, _ = done.stdout.split()
        if ok != "1":
            raise SystemExit(f"verify found problems in the benchmark store ({mode})")
    return statistics.median(times)


def main() -> None:
    from bench_scale import build, results

    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--distinct", type=int, default=2000)
    args = parser.parse_args()
    pairs = results(args.distinct)
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.small, args.large):
            db = Path(folder) / f"verify-{count}.db"
            build(db, count, pairs)
            figures[count] = {mode: measure(db, mode) for mode in ("checks", "retriage")}
    print(f"{'intakes':>9} {'before (s)':>11} {'with re-triage (s)':>19} {'ratio':>6}")
    for count, times in figures.items():
        print(f"{count:>9,} {times['checks']:>11.2f} {times['retriage']:>19.2f} {times['retriage'] / times['checks']:>6.2f}")
    scale = args.large / args.small
    for mode in ("checks", "retriage"):
        grown = figures[args.large][mode] / figures[args.small][mode]
        print(f"{mode}: {args.large:,} intakes take {grown:.1f}x the time of {args.small:,} ({scale:.0f}x the intakes)")


if __name__ == "__main__":
    main()
