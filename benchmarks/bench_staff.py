"""Figures for the staff pages on a large store. Prints numbers; asserts nothing.

    python benchmarks/bench_staff.py [--intakes 100000]

Builds two stores, of 1,000 and N recorded intakes (seeded synthetic answers, assessed once per
distinct answers object and inserted in bulk with their worklist rows: the figure is about reading,
not saving), then times on each, median of 5: the store's worklist query, the staff worklist page
(first page, filtered, the last page) through the app, one summary page, the alert poll and
GET /healthz, and prints the large store's time as a ratio of the small one's.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _measure import load  # noqa: E402


def median_ms(action, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build(folder: Path, intakes: int, samples) -> tuple[Path, float, float]:
    """A store of ``intakes`` recorded intakes, written in bulk (versions, then their worklist rows)."""
    from triage import accounts
    from triage.store import _fill_worklist, content_hash, open_store

    db = folder / f"store-{intakes}.db"
    with open_store(db) as store:
        store.add_user("clint", "clinician", accounts.hash_password("bench password 1234"), by="bench")
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA synchronous = OFF")
    started = time.perf_counter()
    with raw:
        for intake in range(1, intakes + 1):
            answers, result = samples[intake % len(samples)]
            answers = {**answers, "patient_id": f"P-{intake}"}
            at = "2026-11-27T08:00:00Z"
            digest = content_hash(intake, 1, at, "bench", "file", answers, result, result["settings"])
            raw.execute("INSERT INTO intakes (id, created_at, created_by) VALUES (?,?,?)", (intake, at, "bench"))
            raw.execute("INSERT INTO versions (intake_id, version, recorded_at, recorded_by, source, answers, result,"
                        " status, patient_id, ruleset_name, ruleset_version, settings, content_sha256)"
                        " VALUES (?,1,?,?,?,?,?,?,?,?,?,?,?)",
                        (intake, at, "bench", "file", json.dumps(answers), json.dumps(result), result["status"],
                         answers["patient_id"], result["ruleset"]["name"], result["ruleset"]["version"],
                         json.dumps(result["settings"]), digest))
        _fill_worklist(raw)  # what opening an older store does: the worklist rows from the versions
    raw.close()
    return db, time.perf_counter() - started, db.stat().st_size / 2**20


def figures(db: Path, intakes: int, today) -> dict[str, float]:
    from triage.store import open_store
    from triage.web.app import create_app

    app = create_app(store_path=db, today=lambda: today)
    client = app.test_client()
    page = client.get("/staff/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/staff/sign-in", data={"csrf_token": token, "name": "clint", "password": "bench password 1234"})
    with open_store(db) as store:
        worklist = median_ms(lambda: store.worklist(limit=50))

    def get(path: str) -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    last = max(1, intakes // 50)
    return {
        "GET /healthz (baseline)": median_ms(lambda: get("/healthz")),
        "store.worklist(limit=50)": worklist,
        "GET /staff/ (first page of 50)": median_ms(lambda: get("/staff/")),
        "GET /staff/?status=urgent": median_ms(lambda: get("/staff/?status=urgent")),
        "GET /staff/?missing=current_mri": median_ms(lambda: get("/staff/?missing=current_mri")),
        "GET /staff/?urgency=emergency": median_ms(lambda: get("/staff/?urgency=emergency")),
        "GET /staff/?page=LAST": median_ms(lambda: get(f"/staff/?page={last}")),
        "GET /staff/intakes/7 (summary)": median_ms(lambda: get("/staff/intakes/7")),
        "GET /staff/alerts.json (the poll)": median_ms(lambda: get("/staff/alerts.json")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intakes", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the small store of the same run (default 1,000)")
    args = parser.parse_args()

    from datetime import date

    from triage.answers import parse_answers
    from triage.assess import assess
    from triage.ruleset import load_ruleset
    from triage.settings import load_settings

    ruleset, settings = load_ruleset(), load_settings()
    today = date(2026, 11, 27)
    samples = []
    import random

    rng = random.Random(20261127)
    flags = ["red_flag_bladder_bowel", "red_flag_major_trauma", "red_flag_fever_or_wound"]
    for n in range(200):  # 200 distinct answers objects, reused round-robin
        answers = {"patient_id": f"P-{n}", "assessment_date": today.isoformat(),
                   "fusion_date": rng.choice(["2024-03", "2026-09", "unknown"]),
                   "surgical_report_available": rng.choice(["yes", "no"]),
                   "mri_available": rng.choice(["yes", "no", "unknown"]),
                   rng.choice(flags): rng.choice(["yes", "no", "no", "no"])}
        result = assess(parse_answers(answers, today=today), ruleset, settings).to_json()
        samples.append((answers, result))

    with tempfile.TemporaryDirectory() as folder:
        small_db, _, small_size = build(Path(folder), args.small, samples)
        large_db, built, size = build(Path(folder), args.intakes, samples)
        small = figures(small_db, args.small, today)
        large = figures(large_db, args.intakes, today)
    print(f"staff pages: {args.intakes:,} intakes ({size:.0f} MiB, built in {built:.0f} s) vs {args.small:,} "
          f"({small_size:.0f} MiB) in the same run; median of 5; {load()}")
    print(f"  {'':<36} {args.small:>9,} {args.intakes:>9,}  ratio")
    for name, ms in large.items():
        print(f"  {name:<36} {small[name]:>7.1f} ms {ms:>7.1f} ms {ms / small[name]:>6.1f}x")


if __name__ == "__main__":
    main()
