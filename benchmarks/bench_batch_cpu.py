"""Batch CPU per line against its floor, in one process, interleaved: the speed issue's measure.

Both pipelines read the same generated lines (every status, one broken line per 1000): the batch's
`triage_line` (validation, derived facts, the checked engine decisions, the result, its JSON) and the
floor's `floor_line` (benchmarks/floor_batch.py: the same validation and a result-shaped record,
without the rules). Each round times both, one after the other, in CPU seconds; the median of the
rounds' figures is printed with the ratio batch / floor and lines per CPU-second (one worker's rate).
Targets (reported, never asserted): ratio <= 2.0, >= 3,000 lines per CPU-second.

What a batch keeps from line to line (the engine's checked decisions, the JSON of result heads and trace
entries) is warmed up on 5,000 other lines, as the start of a backlog would; every round then
triages lines it has never seen (its own seed), so combinations met for the first time cost what they
cost in a real run.

    python benchmarks/bench_batch_cpu.py [--lines 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import floor_batch  # noqa: E402
import generate  # noqa: E402
from triage.channels import batch  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    config = batch.BatchConfig(load_ruleset(), load_settings(), generate.ASSESSMENT_DATE)
    rounds = [[line.encode() for line in generate.lines(args.lines, seed=100 + n)] for n in range(args.rounds)]

    def cpu_per_line(function, lines) -> float:
        started = time.process_time()
        for number, line in enumerate(lines, 1):
            function(number, line, config)
        return (time.process_time() - started) / len(lines)

    warm_up = [line.encode() for line in generate.lines(5000, seed=2)]
    cpu_per_line(floor_batch.floor_line, warm_up)
    cpu_per_line(batch.triage_line, warm_up)  # definitions, engine registration, first decisions
    figures: dict[str, list[float]] = {"batch": [], "floor": [], "ratio": []}
    for lines in rounds:
        floor, triaged = cpu_per_line(floor_batch.floor_line, lines), cpu_per_line(batch.triage_line, lines)
        figures["floor"].append(floor)
        figures["batch"].append(triaged)
        figures["ratio"].append(triaged / floor)
    batch_ms, floor_ms = (statistics.median(figures[k]) * 1e3 for k in ("batch", "floor"))
    print(f"{args.lines} new lines x {args.rounds} interleaved rounds, CPU time, median")
    print(f"  triage batch line  {batch_ms:.3f} ms   ({1e3 / batch_ms:,.0f} lines per CPU-second)")
    print(f"  floor line         {floor_ms:.3f} ms")
    print(f"  ratio              {statistics.median(figures['ratio']):.2f}x  "
          f"(min {min(figures['ratio']):.2f}, max {max(figures['ratio']):.2f}; target <= 2.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
