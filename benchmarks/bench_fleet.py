"""Page times through a load balancer: one `triage serve` process against three, in the same run.
Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_fleet.py [--patients 20] [--intakes 2] [--think 0.3] [--rounds 2]

A throwaway PostgreSQL, HAProxy (round robin, no stickiness) and N installed `triage serve` processes
on one store (tests/support/fleet.py: the same set-up as tests/whole/test_fleet.py), for N = 1, then 3.
``--patients`` simulated patients at once (threads, each with its own cookie jar), each completing
``--intakes`` whole intakes (code, intro, every question page with its answer and draft save, check,
send), pausing ``--think`` seconds on average (seeded) before each page. Every request is timed at
the client, through the balancer (what a patient waits for: network, HAProxy, the app, the store),
after one untimed intake on each process (its one-time costs: templates, the engine's first run).

Printed per fleet size (``--rounds`` of each, in ABBA order, pages of all rounds together): pages,
p50 and p95 of all pages and of the answers (POST with the draft save), errors, each round's p95;
then the ratio 3 processes / 1 process. Run with the test venv's Python: the servers
are the installed package (`triage` beside that Python), as in the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/support: the fleet set-up, shared with tests/whole/test_fleet.py

from bench_web import Patient, run_patients  # noqa: E402  (the same simulated patients, timing each request here)

KNOWN = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
         "mri_available": "no", "pain_location": "back"}  # the rest is answered on the pages
ANSWERS = {
    "pain_quality": {"answer": ["aching", "burning"]},
    "pain_pattern_since_surgery": {"answer": "improved_then_returned"},
    "pain_score": {"answer": "7"},
    "hardware_problem_known": {"answer": "no"},
    "mechanical_symptoms": {"answer": "unknown"},
}


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))]


def run(processes: int, args) -> dict:
    from support.fleet import start_fleet
    from triage.records import invites
    from triage.records.store import open_store

    fleet = start_fleet(processes)
    try:
        codes = []
        with open_store(fleet.db) as store:
            for _ in range(args.patients * args.intakes + processes):
                code = invites.new_code()
                store.create_invite(invites.code_hash(code), expires_at=invites.expiry(1), user="bench",
                                    answers=dict(KNOWN))
                codes.append(code)
        # Each process's first intake pays its one-time costs (templates compiled, the rules engine's
        # first run): one untimed intake on each, straight to it, so the figure is the steady state.
        for app in fleet.apps:
            Patient(app.url).intake(codes.pop(), ANSWERS)
        timings: list[tuple[str, float]] = []
        started = time.perf_counter()
        failures = run_patients(args.patients, lambda n: Patient(fleet.url, args.think, n, timings), codes,
                                answers=ANSWERS)
        elapsed = time.perf_counter() - started
    finally:
        fleet.stop()
        fleet.remove()
    return {"processes": processes, "timings": timings, "seconds": elapsed, "failures": failures}


def summary(results: list[dict]) -> dict:
    """One fleet size over its rounds: every page's time together."""
    every = [ms for result in results for _, ms in result["timings"]]
    answers = [ms for result in results for kind, ms in result["timings"] if kind == "POST"]
    return {"pages": len(every), "seconds": sum(result["seconds"] for result in results),
            "failures": [failure for result in results for failure in result["failures"]],
            "p50": statistics.median(every), "p95": p(every, 0.95),
            "answer_p50": statistics.median(answers), "answer_p95": p(answers, 0.95),
            "round_p95": [p([ms for _, ms in result["timings"]], 0.95) for result in results]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--intakes", type=int, default=2, help="whole intakes per patient")
    parser.add_argument("--think", type=float, default=0.3, metavar="SECONDS",
                        help="each patient's mean pause before each page (0: none, a stress figure)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both sizes, in ABBA order")
    args = parser.parse_args()
    one, _ = os.getloadavg()[:2]
    print(f"fleet: {args.patients} patients at once, {args.intakes} intakes each, pause {args.think:g} s "
          f"on average; through HAProxy (round robin) to N triage serve on one PostgreSQL; "
          f"load average {one:.2f} on {os.cpu_count()} CPUs")
    print(f"  {'processes':>9} {'pages':>6} {'seconds':>8} {'p50 ms':>8} {'p95 ms':>8} {'answer p50':>11} "
          f"{'answer p95':>11} {'errors':>7}")
    # ABBA order (1, 3, 3, 1, ...): a machine whose load drifts during the run weighs on both sizes alike.
    order = [size for round_ in range(args.rounds) for size in ((1, 3) if round_ % 2 == 0 else (3, 1))]
    runs: dict[int, list[dict]] = {1: [], 3: []}
    for processes in order:
        runs[processes].append(run(processes, args))
    results = {}
    for processes in (1, 3):
        result = results[processes] = summary(runs[processes])
        print(f"  {processes:>9} {result['pages']:>6} {result['seconds']:>8.1f} {result['p50']:>8.1f} "
              f"{result['p95']:>8.1f} {result['answer_p50']:>11.1f} {result['answer_p95']:>11.1f} "
              f"{len(result['failures']):>7}   p95 by round: "
              + ", ".join(f"{value:.1f}" for value in result["round_p95"]))
        for failure in result["failures"][:5]:
            print(f"    {failure}")
    print(f"  ratio 3 / 1 processes: page p95 {results[3]['p95'] / results[1]['p95']:.2f}, "
          f"answer p95 {results[3]['answer_p95'] / results[1]['answer_p95']:.2f}")


if __name__ == "__main__":
    main()
