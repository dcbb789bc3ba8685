"""(2) Per-intake cost, in one process: the rules engine alone (`engine.fire`) and the whole
assessment (`assess`: derived facts + engine + result + safety checks), with validation and
serialisation beside them for scale. Mean per intake over generated intakes of every status;
median of `--repeat` passes (CPU time, less sensitive to other processes than wall time).

    python benchmarks/bench_engine.py [--intakes 3000] [--repeat 5] [--profile]

--profile adds a cProfile of what one batch worker does per line (triage.channels.batch.triage_line: JSON,
validation, assessment, serialisation), grouped by where the time goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date

from _measure import ROOT, load

if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(0, str(ROOT))

import generate  # noqa: E402
from triage.decision import engine  # noqa: E402
from triage.core.answers import parse_answers  # noqa: E402
from triage.decision.assess import assess  # noqa: E402
from triage.core.facts import derive  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402


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
    parser.add_argument("--profile", action="store_true", help="also profile the per-line work")
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
    if args.profile:
        _profile(args.intakes)
    return figures


# Where a batch line's time goes: each group is the cumulative time of the named functions.
_GROUPS = {
    "JSON parsing of the line (files.parse_json)": ("triage/core/files.py", "parse_json"),
    "answers validation (parse_answers)": ("triage/core/answers.py", "parse_answers"),
    "derived facts (derive)": ("triage/core/facts.py", "derive"),
    "independent evaluator (reference.fired)": ("triage/decision/reference.py", "fired"),
    "recalling durable's checked decisions (decisions.recall)": ("triage/decision/decisions.py", "recall"),
    "durable_rules (engine.fire)": ("triage/decision/engine.py", "fire"),
    "safety checks (assess.check_invariants)": ("triage/decision/assess.py", "check_invariants"),
    "the result's JSON: kept templates filled in": ("triage/decision/batch_json.py", "fill"),
    "the record's line and patient_id (batch._dumps)": ("triage/channels/batch.py", "_dumps"),
}


def _profile(intakes: int) -> None:
    import cProfile
    import pstats

    from triage.channels.batch import BatchConfig, triage_line

    config = BatchConfig(load_ruleset(), load_settings(), date(2026, 11, 24))
    lines = [line.encode() for line in generate.lines(intakes, seed=3)]
    profiler = cProfile.Profile()
    profiler.enable()
    for number, line in enumerate(lines, 1):
        triage_line(number, line, config)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # tottime of everything
    print(f"profile of triage_line over {intakes} lines (cProfile; its overhead inflates small calls):")
    for label, (path, name) in _GROUPS.items():
        cumulative = sum(row[3] for (file, _, function), row in stats.stats.items()
                         if file.endswith(path) and function == name)
        print(f"  {label:52} {cumulative / total:6.1%}")
    durable = sum(row[2] for (file, _, _), row in stats.stats.items() if "/durable/" in file)
    json_in_durable = sum(
        row[3] for (file, _, function), row in stats.stats.items()
        if file.endswith(("json/__init__.py",)) and function in ("dumps", "loads")
    )
    print(f"  (durable's own Python code, self time: {durable / total:.1%}; all json.dumps/loads calls, most "
          f"of them durable copying its state for each action: {json_in_durable / total:.1%})")


if __name__ == "__main__":
    main()
