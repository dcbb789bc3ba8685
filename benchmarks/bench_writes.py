"""Recorded intakes per second with 1 and with 4 writer processes on one store, each process also
viewing pages as staff do (three access-log rows per intake: the worklist, the summary, the print
view). Prints the rates and the ratio 4/1 measured in the same run; asserts nothing.

    python benchmarks/bench_writes.py [--seconds 5] [--backend sqlite postgresql] [--processes 1 4]

Each process opens its own store connection, records new intakes (``Store.record_assessment`` with a
real result of the engine, computed once) and logs its page views (``Store.log_access``) for
``--seconds``, all starting together. Recording an intake writes the audit chain (one lock: writers
of records queue); page views write the access log, its own chain. SQLite: one file, WAL, every
commit waits for the disk (synchronous=FULL). PostgreSQL: a throwaway cluster (as bench_staff.py's,
fsync on). The highest rate printed is the write ceiling measured on this machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

VIEWS_PER_INTAKE = 3


def sample() -> tuple[dict, dict]:
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    answers = parse_answers({"assessment_date": "2026-11-27", "fusion_date": "2024-03", "mri_available": "yes",
                             "mri_date": "2026-10", "surgical_report_available": "yes", "pain_location": "leg",
                             "pain_quality": ["burning"]}, today=date(2026, 11, 27))
    return answers.answered(), json.loads(assess(answers, load_ruleset(), load_settings()).model_dump_json())


def writer(location: str, answers: dict, result: dict, start, seconds: float, number: int, out) -> None:
    from triage.records.store import VIEWED, open_store

    with open_store(Path(location) if not location.startswith("postgresql://") else location) as store:
        start.wait()
        ends, recorded = time.monotonic() + seconds, 0
        while time.monotonic() < ends:
            intake_id, version = store.record_assessment({**answers, "patient_id": f"W{number}-{recorded}"}, result,
                                                         user=f"writer{number}")
            for _ in range(VIEWS_PER_INTAKE):
                store.log_access(VIEWED, user=f"staff{number}", intake_id=intake_id, version=version)
            recorded += 1
    out.put(recorded)


def rate(location: str, processes: int, seconds: float, pair) -> float:
    context = multiprocessing.get_context("fork")
    start, out = context.Event(), context.Queue()
    workers = [context.Process(target=writer, args=(location, *pair, start, seconds, n, out)) for n in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every process has opened its connection
    start.set()
    total = sum(out.get(timeout=seconds + 120) for _ in workers)
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {worker.exitcode})")
    return total / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--processes", nargs=2, type=int, default=[1, 4], metavar=("FEW", "MANY"))
    args = parser.parse_args()
    pair = sample()
    one, five, _ = os.getloadavg()
    print(f"recorded intakes per second, {VIEWS_PER_INTAKE} page views each, {args.seconds:g} s per figure; "
          f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs")
    folder = Path(tempfile.mkdtemp(prefix="bench-writes-"))
    folder.chmod(0o755)  # the PostgreSQL server (as root: user postgres) reaches its folder inside
    try:
        for backend in args.backend:
            cluster = None
            if backend == "postgresql":
                from bench_staff import Cluster

                cluster = Cluster(folder / "pg")
                cluster.start()
            try:
                rates = []
                for count in args.processes:
                    if cluster:
                        location, _ = cluster.database(f"writes_{count}")
                    else:
                        location = str(folder / f"writes-{count}.db")
                    from triage.records.store import open_store

                    with open_store(Path(location) if cluster is None else location):
                        pass  # created (and migrated) before the clock starts
                    rates.append(rate(location, count, args.seconds, pair))
            finally:
                if cluster:
                    cluster.stop()
            few, many = args.processes
            print(f"  {backend:<10} {few} process{'es' if few > 1 else ''}: {rates[0]:7.1f}/s   {many} processes: "
                  f"{rates[1]:7.1f}/s   ratio {rates[1] / rates[0]:.2f}   (page views: {rates[1] * VIEWS_PER_INTAKE:.0f}/s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
