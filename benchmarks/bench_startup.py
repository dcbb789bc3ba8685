"""(1) Start-up: `triage assess FILE` whole-process wall time against the import floor.

Floor: `python -c "import pydantic, rich, durable.lang"` (the libraries the tool is built on).
Also measured, to show where the gap comes from: one trivial pydantic model (`import pydantic`
alone is lazy and builds nothing; the first model imports pydantic's schema machinery).
Target (reported, never asserted): `triage assess` within 1.2x of the floor.

    python benchmarks/bench_startup.py [--runs 21] [--breakdown]

--breakdown times each stage of `assess --format json` inside fresh processes (median per stage), to
show what holds start-up back.
"""

from __future__ import annotations

import argparse
import sys

from _measure import CLI, PYTHON, ROOT, load, median_wall, verdict

FLOOR = "import pydantic, rich, durable.lang"
ONE_MODEL = (
    "import rich, durable.lang\nfrom pydantic import BaseModel\n"
    "class M(BaseModel):\n    x: int = 0\nM(x=1)"
)
TARGET_RATIO = 1.2

# The stages of `triage assess FILE --format json`, in order, each timed in a fresh process.
STAGES = r"""
import time, json, sys
marks = [("start", time.perf_counter())]
def mark(name): marks.append((name, time.perf_counter()))
import argparse, dataclasses, pathlib, datetime; mark("stdlib used by the CLI")
import pydantic; mark("import pydantic (lazy: builds nothing)")
from pydantic import BaseModel; mark("pydantic BaseModel machinery")
import rich; mark("import rich (package only, as in the floor)")
import durable.engine; mark("durable_rules")
class First(BaseModel):
    x: int = 0
First(x=1); mark("a first trivial model (pydantic loads its schema code, scans plugins)")
import triage.answers; mark("triage.answers (the Answers model)")
import triage.settings, triage.facts, triage.result, triage.ruleset; mark("other triage models")
import triage.assess, triage.files, triage.cli.main; mark("triage.assess, files, cli")
ruleset = triage.ruleset.load_ruleset(); settings = triage.settings.load_settings(); mark("load and validate rules TOML")
raw = triage.files.read_answers_file(sys.argv[1])
answers = triage.answers.parse_answers(raw, today=datetime.date.today()); mark("read and validate the answers")
result = triage.assess.assess(answers, ruleset, settings); mark("assess (first call: engine host, register rules)")
json.dumps(result.to_json(), indent=2); mark("result to JSON")
print(json.dumps([(name, (t - marks[i][1]) * 1000) for i, (name, t) in enumerate(marks[1:])]))
"""


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="processes per measurement (median)")
    parser.add_argument("--breakdown", action="store_true", help="time each start-up stage")
    args = parser.parse_args(argv)
    example = str(ROOT / "examples" / "adjacent-tear.json")
    print(f"start-up, median of {args.runs} fresh processes; {load()}")
    median_wall(CLI + ["assess", example, "--format", "json"], 1)  # warm the bytecode cache
    figures = {
        "floor": median_wall([PYTHON, "-c", FLOOR], args.runs),
        "one_model": median_wall([PYTHON, "-c", ONE_MODEL], args.runs),
        "assess_json": median_wall(CLI + ["assess", example, "--format", "json"], args.runs),
        "assess_text": median_wall(CLI + ["assess", example], args.runs),
    }
    floor = figures["floor"]
    print(f"  floor  python -c {FLOOR!r}: {floor * 1000:7.1f} ms")
    print(f"  + one pydantic model (reference):          {figures['one_model'] * 1000:7.1f} ms  "
          f"{figures['one_model'] / floor:.2f}x floor")
    for name, label in (("assess_json", "triage assess FILE --format json"), ("assess_text", "triage assess FILE")):
        ratio = figures[name] / floor
        print(f"  {label:42} {figures[name] * 1000:7.1f} ms  {ratio:.2f}x floor  "
              f"({verdict(ratio <= TARGET_RATIO)} {TARGET_RATIO}x)")
    if args.breakdown:
        _breakdown(example, args.runs)
    print(f"  after: {load()}")
    return figures


def _breakdown(example: str, runs: int) -> None:
    import json
    import statistics
    import subprocess

    from _measure import child_env

    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run([PYTHON, "-c", STAGES, example], capture_output=True, text=True, check=True,
                              env=child_env())
        for name, ms in json.loads(done.stdout):
            samples.setdefault(name, []).append(ms)
    print(f"  stages of assess --format json (median ms of {runs} processes, interpreter start not included):")
    for name, values in samples.items():
        print(f"    {statistics.median(values):6.1f}  {name}")


if __name__ == "__main__":
    main()
    sys.exit(0)
