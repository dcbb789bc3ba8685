"""Seeded synthetic intakes for benchmarks and tests: one answers object per line (JSONL).

Every line carries the same `assessment_date`, so the results do not depend on the day the file is
triaged. The mix covers every status (urgent, too_early, records_needed, ready_for_evaluation) and,
unless `--broken 0`, a few broken lines of every kind the batch must survive: invalid JSON, a JSON
value that is not an object, a blank line, an unknown key, a value outside its choices.

    python benchmarks/generate.py 10000 --seed 7 > intakes.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta
from typing import Any, Iterator, TextIO

ASSESSMENT_DATE = date(2026, 11, 24)
SEGMENTS = ("T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1")
SHORTHAND = {"L4-L5": "L4-5", "L5-S1": "L5/S1", "L3-L4": "l3-l4"}  # what clinicians type
RED_FLAGS = (
    "red_flag_bladder_bowel", "red_flag_saddle_numbness", "red_flag_sexual_function", "red_flag_both_legs",
    "red_flag_progressive_weakness", "red_flag_clot_signs", "red_flag_major_trauma", "red_flag_fever_or_wound",
    "red_flag_cancer_or_weight_loss", "red_flag_immunosuppression",
)
STATUSES = ("urgent", "too_early", "records_needed", "ready_for_evaluation")
# A broken line every so often; the kinds rotate so a small file still has each of them.
BROKEN = (
    '{"fusion_date": "2024-03", "pain_score": 7',  # truncated JSON
    '["not", "an", "object"]',
    "",  # blank line
    '{"fusion_dat": "2024-03"}',  # unknown key (did you mean fusion_date?)
    '{"pain_location": "knee", "pain_score": 11}',  # two bad values
    '{"fusion_date": "2026-02-30"}',  # impossible date
)


def _day(rng: random.Random, months_back_min: int, months_back_max: int) -> date:
    return ASSESSMENT_DATE - timedelta(days=rng.randint(months_back_min * 31, months_back_max * 30))


def _levels(rng: random.Random) -> list[str]:
    start = rng.randint(1, len(SEGMENTS) - 1)
    count = rng.randint(1, min(2, len(SEGMENTS) - start))
    return [SHORTHAND.get(s, s) if rng.random() < 0.3 else s for s in SEGMENTS[start:start + count]]


def intake(rng: random.Random, status: str, number: int) -> dict[str, Any]:
    """An answers object designed to end in `status` (the rules decide; this only aims)."""
    fusion = _day(rng, 8, 60)
    mri = fusion + timedelta(days=rng.randint(30, 200))
    if mri > ASSESSMENT_DATE - timedelta(days=7) or mri < ASSESSMENT_DATE - timedelta(days=330):
        mri = ASSESSMENT_DATE - timedelta(days=rng.randint(7, 300))
    fused = _levels(rng)
    answers: dict[str, Any] = {
        "patient_id": f"SYN-{number:07d}",
        "assessment_date": ASSESSMENT_DATE.isoformat(),
        "fusion_date": fusion.isoformat() if rng.random() < 0.7 else fusion.strftime("%Y-%m"),
        "fused_levels": fused,
        "surgical_report_available": "yes",
        "mri_available": "yes",
        "mri_date": mri.isoformat(),
        "annular_tear_levels": rng.choice([[], [], ["L3-L4"], ["L2-L3", "L3-L4"], "unknown"]),
        "pain_location": rng.choice(["back", "leg", "back_and_leg"]),
        "pain_quality": rng.sample(["aching", "burning", "shooting", "numbness_tingling"], rng.randint(1, 3)),
        "pain_pattern_since_surgery": rng.choice(["never_improved", "improved_then_returned", "new_different_pain"]),
        "pain_score": rng.randint(0, 10),
        "hardware_problem_known": rng.choice(["no", "no", "no", "yes", "unknown"]),
        "mechanical_symptoms": rng.choice(["no", "no", "yes", "unknown"]),
        **{flag: "no" for flag in RED_FLAGS},
        "veteran": rng.choice(["no", "no", "yes", True, False]),
    }
    if status == "urgent":
        for flag in rng.sample(RED_FLAGS, rng.randint(1, 2)):
            answers[flag] = rng.choice(["yes", True])
        if rng.random() < 0.5:  # urgent wins even over a recent fusion and missing records
            answers["fusion_date"] = _day(rng, 1, 4).isoformat()
            answers.pop("mri_date")
    elif status == "too_early":
        answers["fusion_date"] = _day(rng, 0, 4).strftime(rng.choice(["%Y-%m-%d", "%Y-%m"]))
        answers.pop("mri_date")
        answers["mri_available"] = "no"
    elif status == "records_needed":
        gap = rng.choice(["report", "mri", "levels", "screen", "pattern", "fusion"])
        if gap == "report":
            answers["surgical_report_available"] = rng.choice(["no", "unknown"])
        elif gap == "mri":
            answers["mri_date"] = _day(rng, 14, 20).isoformat() if rng.random() < 0.5 else "unknown"
        elif gap == "levels":
            answers["fused_levels"] = rng.choice([[], "unknown"])
        elif gap == "screen":
            answers[rng.choice(RED_FLAGS)] = "unknown"
        elif gap == "pattern":
            answers.pop("pain_quality")
        else:
            answers["fusion_date"] = "unknown"
    if rng.random() < 0.2:  # a few unanswered optional questions
        for key in rng.sample(["pain_score", "pain_pattern_since_surgery", "veteran", "patient_id"], 2):
            answers.pop(key, None)
    return answers


def lines(count: int, seed: int = 1, broken_every: int = 1000) -> Iterator[str]:
    """`count` JSONL lines (without newline). Status cycles with a seeded shuffle; every
    `broken_every`-th line (1-based; 0 = never) is broken."""
    rng = random.Random(seed)
    broken = 0
    for number in range(1, count + 1):
        if broken_every and number % broken_every == 0:
            yield BROKEN[broken % len(BROKEN)]
            broken += 1
            continue
        yield json.dumps(intake(rng, STATUSES[rng.randrange(len(STATUSES))], number))


def write(out: TextIO, count: int, seed: int = 1, broken_every: int = 1000) -> None:
    for line in lines(count, seed, broken_every):
        out.write(line + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="number of lines")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--broken-every", type=int, default=1000,
                        help="every Nth line is broken (0: none; default 1000)")
    parser.add_argument("--out", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            write(out, args.count, args.seed, args.broken_every)
    else:
        write(sys.stdout, args.count, args.seed, args.broken_every)
    return 0


if __name__ == "__main__":
    sys.exit(main())
