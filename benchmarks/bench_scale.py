"""The store at clinic-network scale: `list`, each of its filters and `audit verify` on a large store
against the same commands on a small one, built and measured in the same run. Prints numbers and
ratios; asserts nothing (tests never time anything).

    python benchmarks/bench_scale.py [--large 100000] [--small 1000] [--db-url postgresql://...]

``--db-url``: measure a PostgreSQL store instead of SQLite. The URL names any database on the server,
as a role that may create databases; two fresh databases are created beside it for the run and
dropped at the end.

Both stores are built the way a backlog is recorded (``Store.record_batch``, one transaction per
chunk of 1,000, as `triage batch --save` does) from real results of the engine on seeded synthetic
answers. Each command runs in a fresh process (as a coordinator runs it), median of 3; the peak
memory is that process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code; imported by the tests, the installed one
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

COMMANDS = {
    "list": ["list"],
    "list --status urgent": ["list", "--status", "urgent"],
    "list --missing current_mri": ["list", "--missing", "current_mri"],
    "list --urgency emergency": ["list", "--urgency", "emergency"],
    "list --offset 500": ["list", "--offset", "500"],
    "audit verify": ["audit", "verify"],
}

# A child runs one command in-process and reports its peak memory (KiB on Linux) on the last line.
CHILD = """
import resource, sys, io
if sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
from triage.channels.cli.main import main
code = main(sys.argv[2:], out=io.StringIO(), err=io.StringIO())
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def results(count: int) -> list[tuple[dict, dict]]:
    """Real (answers, result) pairs from the engine, on seeded synthetic answers."""
    import generate

    from triage.core.answers import parse_answers
    from triage.decision.assess import assess
    from triage.core.files import parse_json
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings

    ruleset, settings, pairs = load_ruleset(), load_settings(), []
    for line in generate.lines(count * 2, seed=5):
        try:
            answers = parse_answers(parse_json(line.encode(), "line"), today=date(2026, 11, 24))
        except Exception:
            continue  # the generator's deliberately broken lines
        pairs.append((answers.answered(), json.loads(assess(answers, ruleset, settings).model_dump_json())))
        if len(pairs) == count:
            break
    return pairs


def build(path: Path | str, intakes: int, pairs: list[tuple[dict, dict]]) -> float:
    from triage.records.store import open_store

    started = time.perf_counter()
    with open_store(path) as store:
        for first in range(0, intakes, 1000):
            chunk = [(f"bench:{number}", *pairs[number % len(pairs)])
                     for number in range(first, min(first + 1000, intakes))]
            store.record_batch(chunk, user="bench")
    return time.perf_counter() - started


def measure(db: Path | str, command: list[str], runs: int = 3) -> tuple[float, int]:
    times, peaks = [], []
    for _ in range(runs):
        started = time.perf_counter()
        # The child measures the checkout's code when this runs as a script, the installed package when
        # a test imports it (started outside the checkout, which `python -c` would put first).
        code_root = str(ROOT) if __name__ == "__main__" else ""
        done = subprocess.run([sys.executable, "-c", CHILD, code_root, *command, "--db", str(db)],
                              capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - started)
        code, peak = done.stdout.split()[-2:]
        if code != "0":
            raise SystemExit(f"{' '.join(command)} exited {code}")
        peaks.append(int(peak))
    return statistics.median(times), max(peaks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--db-url", metavar="URL", help="a PostgreSQL server to measure (see above)")
    args = parser.parse_args()
    compare(args.large, args.small, args.db_url)


@contextmanager
def postgresql_stores(url: str):
    """Two fresh databases on the server of ``url`` (dropped afterwards), as URLs."""
    import psycopg

    parts = urlsplit(url)
    names = [f"triage_bench_{name}_{os.getpid()}" for name in ("small", "large")]
    with psycopg.connect(url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield [urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, "")) for name in names]
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_size(location: Path | str) -> int:
    if isinstance(location, Path):
        return location.stat().st_size
    from triage.records.store import open_store

    with open_store(location) as store:
        return store._db.execute("SELECT pg_database_size(current_database())").fetchone()[0]


def compare(large_count: int, small_count: int, db_url: str | None = None) -> None:
    """Build both stores (SQLite files in a scratch folder, or databases on ``db_url``'s server) and
    print the table."""
    if db_url:
        with postgresql_stores(db_url) as (small, large):
            _compare(large_count, small_count, small, large)
    else:
        with tempfile.TemporaryDirectory() as folder:
            _compare(large_count, small_count, Path(folder) / "small.db", Path(folder) / "large.db")


def _compare(large_count: int, small_count: int, small: Path | str, large: Path | str) -> None:
    pairs = results(400)
    print(f"backend: {'postgresql' if isinstance(large, str) else 'sqlite'}")
    small_seconds = build(small, small_count, pairs)
    large_seconds = build(large, large_count, pairs)
    size = store_size(large)
    print(f"built {small_count:,} intakes in {small_seconds:.1f} s, {large_count:,} in {large_seconds:.1f} s "
          f"({large_count / large_seconds:,.0f} intakes/s recorded in chunks of 1,000); large store "
          f"{size / 1024 / 1024:.0f} MiB")
    print(f"{'command':30} {'small':>9} {'large':>9} {'ratio':>6} {'peak MiB (large)':>17}")
    for name, command in COMMANDS.items():
        small_time, _ = measure(small, command)
        large_time, peak = measure(large, command)
        print(f"{name:30} {small_time * 1000:7.0f}ms {large_time * 1000:7.0f}ms "
              f"{large_time / small_time:5.1f}x {peak / 1024:16.0f}")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
