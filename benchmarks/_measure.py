"""Helpers shared by the benchmark scripts: medians, machine load, peak memory of a process tree."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI = [PYTHON, str(ROOT / "cli.py")]


def child_env() -> dict[str, str]:
    """Children run like an installed package: bytecode may be cached (pip compiles it at install;
    PYTHONDONTWRITEBYTECODE would make every start compile the sources again)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def median_wall(command: list[str], runs: int, **kwargs) -> float:
    """Median wall time in seconds of `runs` fresh processes (output discarded)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=child_env(), **kwargs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _tree(root: int) -> list[int]:
    """`root` and its descendants, from /proc (no psutil)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += parents.get(pid, [])
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB; PSS shares pages common to forked workers fairly between them."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_measured(command: list[str], interval: float = 0.05, **kwargs) -> dict:
    """Run a command; return wall seconds, CPU seconds of the whole tree, exit code, the peak of the summed RSS and PSS of its
    process tree (sampled every `interval` s) and the largest single process's peak RSS
    (getrusage RUSAGE_CHILDREN: exact, but the maximum of one process, not a sum)."""
    import tempfile

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    with tempfile.TemporaryFile() as errors:  # progress lines stay out of the figures; shown on failure
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=child_env(), **kwargs)
        peak_rss = peak_pss = 0
        while process.poll() is None:
            sums = [_memory_kb(pid) for pid in _tree(process.pid)]
            peak_rss = max(peak_rss, sum(r for r, _ in sums))
            peak_pss = max(peak_pss, sum(p for _, p in sums))
            time.sleep(interval)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            sys.stderr.write(errors.read().decode("utf-8", "replace"))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    largest = usage.ru_maxrss
    return {
        "seconds": wall,
        # CPU of the whole tree (workers are reaped by the parent, so their time is included): less
        # sensitive than wall time to other processes on a shared machine.
        "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before,
        "code": process.returncode,
        "tree_rss_mb": peak_rss / 1024,
        "tree_pss_mb": peak_pss / 1024,
        # ru_maxrss is a running maximum over every child ever waited for: only meaningful if it grew.
        "largest_process_mb": largest / 1024 if largest > before else None,
    }


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"
