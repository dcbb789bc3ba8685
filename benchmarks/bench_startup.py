"""(1) Start-up: `triage assess FILE --format json` against a fair floor, in CPU time of whole processes.

Fair floor (the speed issue's): a Python process that imports pydantic, rich and durable, validates one
20-field model and prints its JSON - what any tool built on these libraries pays before its own work.
Each round starts the floor and `triage assess FILE --format json` (and the text form, for reference)
one after the other; the median of the rounds' CPU times (user + system of the child, steadier than
wall time on a shared machine) and of their ratios is printed. Target (reported, never asserted):
`triage assess FILE --format json` within 1.15x of the floor.

The definitions kept validated between runs (triage/core/definition_cache.py) are used as an installed
tool uses them: a warm-up run keeps them first (a cold start, as after an upgrade, is also shown).
With them kept, `assess --format json` builds no pydantic schema at all (the answers are checked by
their own functions and the model is built from them, triage/core/answers.py), so it does not pay the
~25 ms the floor pays for building its first schema: that is most of why it comes close to the floor.

    python benchmarks/bench_startup.py [--runs 21] [--breakdown]

--breakdown times each stage of `assess --format json` inside fresh processes (median CPU ms per
stage), to show what holds start-up back.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile

from _measure import CLI, PYTHON, ROOT, child_env, load, verdict

FLOOR = "\n".join([
    "import json, rich, durable.lang",
    "from pydantic import BaseModel",
    "class Answers(BaseModel):",
    *(f"    q{number}: str | None = None" for number in range(20)),
    "print(json.dumps(Answers.model_validate({f'q{n}': 'yes' for n in range(20)}).model_dump(mode='json'), indent=2))",
])
TARGET_RATIO = 1.15

# The stages of `triage assess FILE --format json`, in order, each timed in a fresh process.
STAGES = r"""
import time, json, sys
marks = [("start", time.process_time())]
def mark(name): marks.append((name, time.process_time()))
import argparse, dataclasses, pathlib, datetime; mark("stdlib used by the CLI")
import pydantic; mark("import pydantic (lazy: builds nothing)")
from pydantic import BaseModel; mark("pydantic BaseModel machinery")
import durable.engine; mark("durable_rules")
import triage.core.answers; mark("triage.core.answers (the first pydantic class loads pydantic's model code; no schema is built)")
import triage.core.settings, triage.core.result_values, triage.core.facts, triage.core.ruleset; mark("definition model classes (validators deferred), the result's values")
import triage.decision.assess, triage.core.files, triage.channels.cli.main; mark("triage.decision.assess, files, the command modules")
triage.channels.cli.main.build_parser(only="assess"); mark("the assess command's options")
ruleset = triage.core.ruleset.load_ruleset(); settings = triage.core.settings.load_settings(); mark("rules and settings (kept validated)")
raw = triage.core.files.read_answers_file(sys.argv[1])
answers = triage.core.answers.parse_answers(raw, today=datetime.date.today()); mark("read and check the answers")
result = triage.decision.assess.assess_data(answers, ruleset, settings); mark("assess (engine host, register rules, first call)")
json.dumps(result, indent=2); mark("result to JSON")
print(json.dumps([(name, (t - marks[i][1]) * 1000) for i, (name, t) in enumerate(marks[1:])]))
"""


def _cpu_ms(command: list[str], env: dict[str, str]) -> float:
    """CPU milliseconds (user + system) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="interleaved rounds (median)")
    parser.add_argument("--breakdown", action="store_true", help="time each start-up stage")
    args = parser.parse_args(argv)
    example = str(ROOT / "examples" / "adjacent-tear.json")
    commands = {
        "floor": [PYTHON, "-c", FLOOR],
        "assess_json": CLI + ["assess", example, "--format", "json"],
        "assess_text": CLI + ["assess", example],
    }
    print(f"start-up, CPU time of fresh processes, median of {args.runs} interleaved rounds; {load()}")
    with tempfile.TemporaryDirectory() as cache:
        env = {**child_env(), "TRIAGE_CACHE_DIR": cache}
        cold = _cpu_ms(commands["assess_json"], env)  # keeps the definitions, as a first run after an upgrade
        for command in commands.values():
            _cpu_ms(command, env)  # bytecode and page cache warm
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_cpu_ms(command, env))
        if args.breakdown:
            _breakdown(example, args.runs, env)
    figures = {name: statistics.median(values) for name, values in samples.items()}
    floor = figures["floor"]
    print(f"  fair floor (pydantic, rich, durable; one 20-field model validated, its JSON printed): {floor:6.1f} ms")
    for name, label in (("assess_json", "triage assess FILE --format json"), ("assess_text", "triage assess FILE (text)")):
        ratios = [value / base for value, base in zip(samples[name], samples["floor"])]
        ratio = statistics.median(ratios)
        mark = f"({verdict(ratio <= TARGET_RATIO)} {TARGET_RATIO}x)" if name == "assess_json" else "(for reference)"
        print(f"  {label:34} {figures[name]:6.1f} ms  {ratio:.2f}x floor, range {min(ratios):.2f} to "
              f"{max(ratios):.2f} {mark}")
    print(f"  first run, definitions not yet kept (cold): {cold:6.1f} ms ({cold / floor:.2f}x floor, one run)")
    print(f"  after: {load()}")
    return figures


def _breakdown(example: str, runs: int, env: dict[str, str]) -> None:
    import json

    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run([PYTHON, "-c", STAGES, example], capture_output=True, text=True, check=True, env=env)
        for name, ms in json.loads(done.stdout):
            samples.setdefault(name, []).append(ms)
    print(f"  stages of assess --format json (median CPU ms of {runs} processes, interpreter start not included):")
    for name, values in samples.items():
        print(f"    {statistics.median(values):6.1f}  {name}")


if __name__ == "__main__":
    main()
    sys.exit(0)
