"""(2) Per-intake cost, in one process: the rules engine alone (`engine.fire`) and the whole
assessment (`assess`: derived facts + engine + result + safety checks), with validation and
serialisation beside them for scale. Mean per intake over generated intakes of every status;
median of `--repeat` passes (CPU time, less sensitive to other processes than wall time).

    python benchmarks/bench_engine.py [--intakes 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date

from _measure import ROOT, load

sys.path.insert(0, str(ROOT))

import generate  # noqa: E402
from triage import engine  # noqa: E402
from triage.answers import parse_answers  # noqa: E402
from triage.assess import assess  # noqa: E402
from triage.facts import derive  # noqa: E402
from triage.ruleset import load_ruleset  # noqa: E402
from triage.settings import load_settings  # noqa: E402


def _per_item_us(function, items, repeat: int) -> float:
    passes = []
    for _ in range(repeat):
        started = time.process_time()
        for item in items:
            function(item)
        passes.append((time.process_time() - started) / len(items) * 1e6)
    return statistics.median(passes)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--intakes", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    import json

    ruleset, settings = load_ruleset(), load_settings()
    raw = [json.loads(line) for line in generate.lines(args.intakes, seed=2, broken_every=0)]
    today = date(2026, 11, 24)
    answers = [parse_answers(item, today=today) for item in raw]
    derived = [derive(item, settings) for item in answers]
    results = [assess(item, ruleset, settings) for item in answers]
    fired = statistics.mean(len(result.trace) for result in results)
    figures = {
        "parse_answers": _per_item_us(lambda item: parse_answers(item, today=today), raw, args.repeat),
        "derive": _per_item_us(lambda item: derive(item, settings), answers, args.repeat),
        "engine_fire": _per_item_us(lambda item: engine.fire(ruleset, item.fact), derived, args.repeat),
        "assess": _per_item_us(lambda item: assess(item, ruleset, settings), answers, args.repeat),
        "to_json_line": _per_item_us(lambda item: item.model_dump_json(), results, args.repeat),
    }
    print(f"per intake, {args.intakes} generated intakes (mean {fired:.1f} rules fired), "
          f"median of {args.repeat} passes, CPU time; {load()}")
    labels = {
        "parse_answers": "validate answers (parse_answers)",
        "derive": "derived facts (facts.derive)",
        "engine_fire": "rules engine alone (engine.fire)",
        "assess": "whole assessment (assess)",
        "to_json_line": "result -> JSON line",
    }
    for name, label in labels.items():
        print(f"  {label:36} {figures[name]:8.1f} us")
    share = figures["engine_fire"] / figures["assess"]
    print(f"  the engine is {share:.0%} of assess; {1e6 / (figures['parse_answers'] + figures['assess'] + figures['to_json_line']):,.0f} intakes/s on one core")
    return figures


if __name__ == "__main__":
    main()
