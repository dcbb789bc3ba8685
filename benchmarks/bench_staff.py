"""Figures for the staff pages on a large store with a backlog's red-flag alerts. Prints numbers and
ratios measured in the same run; asserts nothing (tests never time anything).

    python benchmarks/bench_staff.py [--intakes 100000] [--small 1000] [--backend sqlite postgresql]
                                     [--runs 5] [--keep DIR]

Builds, per backend, a store of ``--small`` and one of ``--intakes`` recorded intakes the way a
`triage batch --save` backlog leaves them: real results of the engine on seeded answers, about a
third of them with a red flag answered yes and its alert OPEN (the issue measured 32,289 open alerts
in 100,000 intakes). Rows are written in bulk (versions, worklist rows, alerts): the figure is about
reading, not saving. Then a fresh process per store signs in as a clinician and times, median of
``--runs``: every staff page (the worklist, its filters, the next page, a summary of an intake with
an open alert, the alerts page, the banner's poll of the title count) and GET /healthz as a
baseline; it reports its peak resident memory (RSS). The large store's figures are printed as a
ratio of the small one's.

PostgreSQL: a throwaway cluster (Debian's binaries, a Unix socket, no TCP) as the tests start one.
``--keep DIR`` keeps the built stores (SQLite files, and the PostgreSQL cluster's data folder) in DIR
and reuses them on the next run with the same sizes: building 100,000 intakes takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TODAY = date(2026, 11, 27)
PASSWORD = "bench password 1234"
# Tier mix of the red flags answered yes in the backlog (questions of each tier in the rules).
FLAGS = {"emergency": ["red_flag_bladder_bowel", "red_flag_major_trauma", "red_flag_progressive_weakness"],
         "same_day": ["red_flag_fever_or_wound"], "soon": ["red_flag_cancer_or_weight_loss", "red_flag_immunosuppression"]}


# --- the stores -----------------------------------------------------------------------------------

def samples(count: int = 300) -> list[tuple[dict, dict]]:
    """(answers, result) pairs from the engine; a third answer one or two red flags yes."""
    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    ruleset, settings, rng, pairs = load_ruleset(), load_settings(), random.Random(20261127), []
    every = [question for questions in FLAGS.values() for question in questions]
    for n in range(count):
        answers = {"assessment_date": TODAY.isoformat(),
                   "fusion_date": rng.choice(["2024-03", "2026-09", "unknown"]),
                   "surgical_report_available": rng.choice(["yes", "no"]),
                   "mri_available": rng.choice(["yes", "no", "unknown"]),
                   **{question: "no" for question in every}}
        if n % 3 == 0:
            for question in rng.sample(every, rng.choice([1, 1, 2])):
                answers[question] = "yes"
        parsed = parse_answers(answers, today=TODAY)
        pairs.append((parsed.answered(), json.loads(assess(parsed, ruleset, settings).model_dump_json())))
    return pairs


def build(location: Path | str, intakes: int, pairs: list[tuple[dict, dict]]) -> float:
    """Fill an empty store with ``intakes`` intakes in bulk; seconds taken."""
    from triage.records import accounts
    from triage.records.store import content_hash, open_store, shipped_red_flag_tiers, worklist_entry

    tiers = shipped_red_flag_tiers()
    started = time.perf_counter()
    with open_store(location) as store:
        store.add_user("clint", "clinician", accounts.hash_password(PASSWORD), by="bench")
        store.enroll_second_factor("clint", accounts.new_totp_secret(), 0, [])
        alert_id = 0
        for first in range(1, intakes + 1, 2000):
            intake_rows, versions, worklist, items, alerts = [], [], [], [], []
            for intake in range(first, min(first + 2000, intakes + 1)):
                answers, result = pairs[intake % len(pairs)]
                answers = {**answers, "patient_id": f"P-{intake}"}
                # A backlog recorded over the past year: one intake every five minutes or so.
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1764547200 + intake * 300))
                source = f"bench:{intake}"
                digest = content_hash(intake, 1, at, "bench", source, answers, result, result["settings"])
                intake_rows.append((intake, at, "bench"))
                versions.append((intake, at, "bench", source, json.dumps(answers), json.dumps(result), result["status"],
                                 answers["patient_id"], result["ruleset"]["name"], result["ruleset"]["version"],
                                 json.dumps(result["settings"]), digest))
                yes = [q for q, value in answers.items() if q.startswith("red_flag_") and value == "yes"]
                open_tiers = [tiers[q] for q in yes]
                for question in yes:
                    alert_id += 1
                    alerts.append((alert_id, intake, question, tiers[question], at))
                from triage.records.store import most_urgent

                entry = worklist_entry(1, answers, result, at, False, most_urgent(open_tiers))
                worklist.append((intake, *(entry[c] for c in ("version", "rank", "status", "urgency", "patient_id",
                                                              "months_since_fusion", "assessment_date", "recorded_at",
                                                              "draft_pending", "alert_urgency"))))
                items += [(intake, kind, position, item) for kind, values in entry["items"].items()
                          for position, item in enumerate(values)]
            with store._write() as db:
                db.executemany("INSERT INTO intakes (id, created_at, created_by) VALUES (?,?,?)", intake_rows)
                db.executemany("INSERT INTO versions (intake_id, version, recorded_at, recorded_by, source, answers,"
                               " result, status, patient_id, ruleset_name, ruleset_version, settings, content_sha256)"
                               " VALUES (?,1,?,?,?,?,?,?,?,?,?,?,?)", versions)
                db.executemany("INSERT INTO worklist (intake_id, version, rank, status, urgency, patient_id,"
                               " months_since_fusion, assessment_date, recorded_at, draft_pending, alert_urgency)"
                               " VALUES (?,?,?,?,?,?,?,?,?,?,?)", worklist)
                db.executemany("INSERT INTO worklist_items (intake_id, kind, position, item) VALUES (?,?,?,?)", items)
                db.executemany("INSERT INTO alerts (id, intake_id, question, urgency, raised_at) VALUES (?,?,?,?,?)",
                               alerts)
        try:  # the counts kept with the worklist, when this code keeps them (staff pages read them)
            from triage.records.store import counts as worklist_counts
        except ImportError:
            worklist_counts = None
        if worklist_counts is not None:
            with store._write() as db:
                worklist_counts.recount(db)
        if store.backend == "postgresql":
            with store._write() as db:
                for table in ("intakes", "alerts"):
                    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                db.execute("ANALYZE")
        else:
            store._db.execute("ANALYZE")
    return time.perf_counter() - started


class Cluster:
    """A PostgreSQL cluster in ``folder`` (created once, kept with --keep), on a Unix socket only."""

    def __init__(self, folder: Path):
        sys.path.insert(0, str(ROOT / "tests"))
        from support.postgres import SUPERUSER, _binaries

        self.folder, self.binaries, self.user = folder, _binaries(), SUPERUSER
        if self.binaries is None:
            raise SystemExit("PostgreSQL is not installed (no initdb/pg_ctl)")
        self.as_root = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        import shlex

        argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)] if self.as_root else list(command)
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if done.returncode != 0:
            raise SystemExit(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        if not data.exists():
            self._run(str(self.binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", self.user, "--no-sync",
                      "-E", "UTF8", "--locale=C")
        # Durability as a server would have it (fsync on): the pages read, but each access writes.
        options = f"-k {self.folder} -c listen_addresses= -c max_connections=40 -c shared_buffers=128MB"
        self._run(str(self.binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "-t", "120", "start")

    def stop(self) -> None:
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.folder}"

    def database(self, name: str) -> tuple[str, bool]:
        """The URL of database ``name`` and whether it already existed."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
            if not exists:
                admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name), exists


# --- one store, measured in a fresh process ----------------------------------------------------

def median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def figures(location: str, runs: int) -> dict[str, float]:
    """Time each staff page on one store (in this process); the last entry is the peak RSS in MiB."""
    from triage.channels.web.app import create_app

    store_path = location if location.startswith("postgresql://") else Path(location)
    from triage.records.store import open_store

    with open_store(store_path) as store, store._write() as db:  # a code works once: each round signs in afresh
        db.execute("UPDATE users SET totp_last_step = 0 WHERE name = 'clint'")
    app = create_app(store_path=store_path, today=lambda: TODAY)
    client = app.test_client()
    page = client.get("/staff/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    signed = client.post("/staff/sign-in", data={"csrf_token": token, "name": "clint", "password": PASSWORD})
    assert signed.status_code in (302, 303), signed.status_code
    from triage.records import accounts

    page = client.get("/staff/second-factor").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    secret, _ = app.extensions["triage"].store().second_factor("clint")
    step = accounts.totp_step(time.time())
    done = client.post("/staff/second-factor", data={"csrf_token": token, "code": accounts.totp_code(secret, step)})
    assert done.status_code in (302, 303) and "second-factor" not in done.headers["Location"], done.status_code

    def get(path: str) -> str:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)

    first = get("/staff/")
    found = re.search(r'href="([^"]+)"[^>]*>Next page', first)
    next_page = found.group(1).replace("&amp;", "&") if found else "/staff/"
    alerted = re.search(r'href="/staff/intakes/(\d+)"', get("/staff/alerts")).group(1)
    measured = {
        "GET /healthz (baseline)": median_ms(lambda: get("/healthz"), runs),
        "GET /staff/ (worklist, first page)": median_ms(lambda: get("/staff/"), runs),
        "GET /staff/ next page": median_ms(lambda: get(next_page), runs),
        "GET /staff/?status=urgent": median_ms(lambda: get("/staff/?status=urgent"), runs),
        "GET /staff/?missing=current_mri": median_ms(lambda: get("/staff/?missing=current_mri"), runs),
        "GET /staff/?urgency=emergency": median_ms(lambda: get("/staff/?urgency=emergency"), runs),
        "GET /staff/intakes/N (summary, open alert)": median_ms(lambda: get(f"/staff/intakes/{alerted}"), runs),
        "GET /staff/alerts (alerts page)": median_ms(lambda: get("/staff/alerts"), runs),
        "GET /staff/alerts.json (title count poll)": median_ms(lambda: get("/staff/alerts.json"), runs),
    }
    measured["peak RSS (MiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return measured


def measure(location: str, runs: int) -> dict[str, float]:
    code_root = str(ROOT) if __name__ == "__main__" else ""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", location, "--runs", str(runs),
                           "--code-root", code_root], capture_output=True, text=True, env=env, timeout=1800,
                          cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise SystemExit(f"measuring {location} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


# --- the run ------------------------------------------------------------------------------------

def stores(backend: str, sizes: tuple[int, int], folder: Path, pairs_of, cluster: "Cluster | None"):
    """(location, built seconds or None when reused) of each size."""
    found = []
    for size in sizes:
        if backend == "sqlite":
            path = folder / f"staff-{size}.db"
            reused = path.exists()
            location: str = str(path)
        else:
            location, reused = cluster.database(f"staff_{size}")
            if reused:  # a database left by a build that did not finish is built again
                from triage.records.store import open_store

                with open_store(location) as store:
                    reused = store._db.execute("SELECT count(*) FROM intakes").fetchone()[0] == size
                if not reused:
                    cluster.database("postgres")
                    import psycopg

                    with psycopg.connect(cluster.url("postgres"), autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE "staff_{size}" WITH (FORCE)')
                    location, _ = cluster.database(f"staff_{size}")
        found.append((location, None if reused else build(location if backend != "sqlite" else Path(location),
                                                           size, pairs_of())))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intakes", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000, help="the small store of the same run (default 1,000)")
    parser.add_argument("--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per store, alternating (default 3)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the built stores here and reuse them")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--code-root", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.code_root:
            sys.path.insert(0, args.code_root)
        print(json.dumps(figures(args.child, args.runs)))
        return

    one, five, _ = os.getloadavg()
    print(f"staff pages, {args.intakes:,} intakes vs {args.small:,} in the same run (a third with an open red-flag "
          f"alert); median of {args.runs}; load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs")
    cache: list = []

    def pairs_of():
        if not cache:
            cache.append(samples())
        return cache[0]

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-staff-"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # the PostgreSQL server (as root: user postgres) reaches its folder inside
    try:
        for backend in args.backend:
            cluster = Cluster(folder / "pg") if backend == "postgresql" else None
            if cluster:
                cluster.start()
            try:
                (small, small_built), (large, large_built) = stores(backend, (args.small, args.intakes), folder,
                                                                    pairs_of, cluster)
                built = "reused" if large_built is None else f"built in {large_built:.0f} s"
                # Rounds alternate the two stores, and each figure is its best round's median: the
                # machine's load drifts (other processes), and must not fall on one store only.
                rounds = [(measure(small, args.runs), measure(large, args.runs)) for _ in range(args.rounds)]
                small_figures = {name: min(r[0][name] for r in rounds) for name in rounds[0][0]}
                large_figures = {name: min(r[1][name] for r in rounds) for name in rounds[0][1]}
            finally:
                if cluster:
                    cluster.stop()
            print(f"\n{backend} ({args.intakes:,}-intake store {built})")
            print(f"  {'':<44} {args.small:>9,} {args.intakes:>10,}   ratio")
            for name, value in large_figures.items():
                unit = "MiB" if "MiB" in name else "ms"
                print(f"  {name:<44} {small_figures[name]:>6.1f} {unit:<3} {value:>6.1f} {unit:<3}"
                      f" {value / small_figures[name]:>6.2f}x")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
