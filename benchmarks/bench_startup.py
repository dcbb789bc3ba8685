"""(1) Start-up: `triage assess FILE` whole-process wall time against the import floor.

Floor: `python -c "import pydantic, rich, durable.lang"` (the libraries the tool is built on).
Also measured, to show where the gap comes from: one trivial pydantic model (`import pydantic`
alone is lazy and builds nothing; the first model imports pydantic's schema machinery).
Target (reported, never asserted): `triage assess` within 1.2x of the floor.

    python benchmarks/bench_startup.py [--runs 21]
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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="processes per measurement (median)")
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
    print(f"  after: {load()}")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
