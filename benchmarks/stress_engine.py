"""Stress evidence for the engine: many checked evaluations while other processes load every CPU.

Each worker process derives the facts of the generated intakes once, records what every intake
gives when evaluated alone (before any load starts), then evaluates them round after round through
the checked path every channel uses (``triage.decision.assess.checked_fire``, asking durable afresh each time
rather than recalling its earlier decisions: durable_rules, then the
independent evaluator, refused on any disagreement). Meanwhile ``--load`` busy-loop processes keep
every core busy, so the foreground is as slow as on a loaded clinic machine. It prints:

    evaluations, engine errors, disagreements, results that differ from the same intake alone,
    and the wall time. All three counts must be 0 (exit 0); otherwise it exits 1.

    python benchmarks/stress_engine.py                      # 1,000,000 evaluations (minutes)
    python benchmarks/stress_engine.py --evaluations 20000  # a quick look

Every loop is bounded: the load processes stop when the workers finish, or after --max-seconds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import generate  # noqa: E402


def _orphaned(parent: int) -> bool:
    """A child whose parent died (killed, say) is re-parented: it stops instead of running on."""
    return os.getppid() != parent


def _spin(stop: multiprocessing.synchronize.Event, deadline: float, parent: int) -> None:
    while not stop.is_set() and time.monotonic() < deadline and not _orphaned(parent):
        for _ in range(100_000):
            pass


def _evaluate(share: int, intakes: int, seed: int, ready, go, parent: int) -> dict[str, int]:
    from triage.core.answers import parse_answers
    from triage.decision.assess import checked_fire
    from triage.core.errors import EngineError
    from triage.core.facts import derive
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    ruleset, settings = load_ruleset(), load_settings()
    facts = [
        derive(parse_answers(json.loads(line), today=generate.ASSESSMENT_DATE), settings).fact
        for line in generate.lines(intakes, seed=seed, broken_every=0)
    ]
    alone = [checked_fire(ruleset, fact, recall=False) for fact in facts]  # before the load starts
    ready.set()
    go.wait()
    counts = {"evaluations": 0, "engine_errors": 0, "disagreements": 0, "differ_from_alone": 0}
    for number in range(share):
        if number % 10_000 == 0 and _orphaned(parent):
            break
        index = number % len(facts)
        counts["evaluations"] += 1
        try:
            fired = checked_fire(ruleset, facts[index], recall=False)
        except EngineError as error:
            counts["disagreements" if "disagree" in str(error) else "engine_errors"] += 1
            continue
        if fired != alone[index]:
            counts["differ_from_alone"] += 1
    return counts


def _worker(share, intakes, seed, ready, go, results, parent) -> None:
    results.put(_evaluate(share, intakes, seed, ready, go, parent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=1_000_000, help="in all (default 1,000,000)")
    parser.add_argument("--intakes", type=int, default=20_000, help="distinct generated intakes (default 20,000)")
    parser.add_argument("--workers", type=int, default=2, help="evaluating processes (default 2)")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy-loop processes competing for the CPU (default: one per core)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--max-seconds", type=float, default=3600, help="bound on the whole run")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")  # workers start clean: no engine inherited
    stop, go, results = context.Event(), context.Event(), context.Queue()
    shares = [args.evaluations // args.workers + (i < args.evaluations % args.workers) for i in range(args.workers)]
    readies = [context.Event() for _ in shares]
    workers = [context.Process(target=_worker, args=(share, args.intakes, args.seed, ready, go, results, os.getpid()))
               for share, ready in zip(shares, readies)]
    for worker in workers:
        worker.start()
    for ready in readies:
        ready.wait(args.max_seconds)
    deadline = time.monotonic() + args.max_seconds
    loaders = [context.Process(target=_spin, args=(stop, deadline, os.getpid()), daemon=True) for _ in range(args.load)]
    for loader in loaders:
        loader.start()
    started = time.monotonic()
    go.set()
    totals: dict[str, int] = {}
    try:
        for _ in workers:
            for key, value in results.get(timeout=args.max_seconds).items():
                totals[key] = totals.get(key, 0) + value
    finally:
        stop.set()
        for process in [*workers, *loaders]:
            process.join(10)
            if process.is_alive():
                process.terminate()
    wall = time.monotonic() - started
    print(f"evaluations        {totals.get('evaluations', 0):>12,}  ({args.workers} workers, {args.load} busy-loop "
          f"processes on {os.cpu_count()} CPUs, {args.intakes:,} intakes)")
    for key in ("engine_errors", "disagreements", "differ_from_alone"):
        print(f"{key.replace('_', ' '):<18} {totals.get(key, 0):>12,}")
    print(f"wall time          {wall:>12.1f} s  ({totals.get('evaluations', 0) / wall:,.0f} evaluations/s)")
    clean = totals.get("evaluations") == args.evaluations and not any(
        totals.get(key) for key in ("engine_errors", "disagreements", "differ_from_alone"))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
