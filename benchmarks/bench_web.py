"""Figures for the web questionnaire (`triage serve`). Prints numbers; asserts nothing.

    python benchmarks/bench_web.py [--patients 20] [--intakes 1000] [--think SECONDS]

A server process (the app under waitress, as `triage serve` runs it) on 127.0.0.1:<free port>, and
``--patients`` simulated patients at once (threads with their own cookie jar), each completing whole
intakes one after the other (code, intro, every question page and its answer with its draft save,
check answers, send, confirmation) until ``--intakes`` are recorded; a prober thread asks GET /healthz
all along: the baseline measured in the same run. ``--think``: each patient's mean pause before each
page (seeded); without it the patients never pause and saturate the server (a stress figure).

Printed: the server-side time per page kind (median and p95, from the access log's route pattern and
time, so network and client threads are not counted), next to /healthz; the server's memory (RSS from
/proc) after every tenth of the intakes, to show it stays flat. Target: p95 under 25 ms for a
question page with its draft save.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__":  # run from a checkout, it measures that code; imported (bench_fleet.py), the importer's
    sys.path.insert(0, str(ROOT))

from _measure import load  # noqa: E402

SERVER = r"""
import logging, sys
from triage.channels.web.app import create_app
from waitress.server import create_server
handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter("%(message)s"))
access = logging.getLogger("triage.web.access")
access.addHandler(handler); access.setLevel(logging.INFO); access.propagate = False
app = create_app(store_path=sys.argv[1])
server = create_server(app, host="127.0.0.1", port=0, threads=8)
print(server.effective_port, flush=True)
server.run()
"""

ANSWERS = {
    "fusion_date": {"month": "3", "year": "2024"},
    "fused_levels": {"answer": ["L4-L5", "L5-S1"]},
    "surgical_report_available": {"answer": "yes"},
    "mri_available": {"answer": "yes"},
    "mri_date": {"month": "9", "year": "2026"},
    "annular_tear_levels": {"answer": ["L3-L4"]},
    "pain_location": {"answer": "back_and_leg"},
    "pain_quality": {"answer": ["aching", "burning"]},
    "pain_pattern_since_surgery": {"answer": "improved_then_returned"},
    "pain_score": {"answer": "7"},
}


class Patient:
    """A simulated patient with a cookie jar of its own (also used by bench_fleet.py). ``think``: the mean
    pause before each page (seeded: the same pauses each run); ``timings``: a list to which each request's
    method and time at the client (ms) are appended."""

    def __init__(self, base: str, think: float = 0.0, seed: int = 0, timings: list[tuple[str, float]] | None = None):
        self.base = base
        self.think, self.random, self.timings = think, random.Random(seed), timings
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.page, self.url = "", ""

    def _open(self, request):
        if self.think:  # a person reads and answers before the next page (seeded: the same pauses each run)
            time.sleep(self.think * self.random.uniform(0.5, 1.5))
        started = time.perf_counter()
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{request.get_method()} {request.full_url}: {error.code}") from None
        self.page, self.url = response.read().decode("utf-8"), response.geturl()
        if self.timings is not None:
            self.timings.append((request.get_method(), (time.perf_counter() - started) * 1000))

    def get(self, path: str) -> None:
        self._open(urllib.request.Request(self.base + path))

    def post(self, path: str | None, fields: dict) -> None:
        form = {name: value for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', self.page)}
        pairs = list(form.items())
        for name, value in fields.items():
            pairs += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
        data = urllib.parse.urlencode(pairs).encode()
        self._open(urllib.request.Request(self.url if path is None else self.base + path, data=data, method="POST"))

    def intake(self, code: str, answers: dict = ANSWERS, *, open_start: bool = False) -> None:
        """One whole intake with ``code``: the code, the intro, every question page answered from
        ``answers`` (form fields by question id; "no" for any other), check answers, send.
        ``open_start``: load the intro (/intake/start) once more after the code."""
        self.get(f"/intake/code/{code}")
        self.post("/intake/", {"code": code})
        if open_start:
            self.get("/intake/start")
        self.get(re.search(r'href="(/intake/questions/[a-z_]+)"', self.page).group(1))
        for _ in range(40):
            match = re.search(r"/intake/questions/([a-z_]+)", self.url)
            if not match:
                break
            self.post(None, answers.get(match.group(1), {"answer": "no"}))
        assert self.url.endswith("/intake/check"), self.url
        self.post(None, {})
        assert self.url.endswith("/intake/done"), self.url


def run_patients(count: int, patient, codes: list[str], *, after_intake=None, **intake_options) -> list[str]:
    """``count`` simulated patients at once (threads; patient number n is ``patient(n)``), each completing
    whole intakes (``Patient.intake`` with ``intake_options``) one after the other with the next of ``codes``
    until none is left, or until its first failure (reported, not hidden). ``after_intake()``, if given,
    runs after each intake, one at a time. Returns the failures."""
    lock = threading.Lock()
    failures: list[str] = []

    def patient_loop(number: int) -> None:
        simulated = patient(number)
        while True:
            with lock:
                if not codes:
                    return
                code = codes.pop()
            try:
                simulated.intake(code, **intake_options)
            except Exception as error:  # reported, not hidden
                failures.append(f"{type(error).__name__}: {error}")
                return
            if after_intake is not None:
                with lock:
                    after_intake()

    threads = [threading.Thread(target=patient_loop, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--intakes", type=int, default=1000)
    parser.add_argument("--think", type=float, default=0.0, metavar="SECONDS",
                        help="each patient's mean pause before each page (0, the default: none, so 20 "
                             "patients saturate the server: a stress figure; about 1-2 s is a fast reader)")
    args = parser.parse_args()

    from triage.records import invites
    from triage.records.store import open_store

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        codes = []
        with open_store(db) as store:
            for _ in range(args.intakes):
                code = invites.new_code()
                store.create_invite(invites.code_hash(code), expires_at=invites.expiry(1), user="bench")
                codes.append(code)
        log = Path(folder) / "access.log"
        with open(log, "w") as log_file:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            server = subprocess.Popen([sys.executable, "-c", SERVER, str(db)], stdout=subprocess.PIPE,
                                      stderr=log_file, text=True, env=env)
            try:
                port = int(server.stdout.readline())
                base = f"http://127.0.0.1:{port}"
                done = [0]
                memory = [(0, rss_kib(server.pid))]
                stop = threading.Event()

                def intake_done() -> None:
                    done[0] += 1
                    if done[0] % max(1, args.intakes // 10) == 0:
                        memory.append((done[0], rss_kib(server.pid)))

                def healthz_loop() -> None:
                    prober = Patient(base)
                    while not stop.is_set():
                        prober.get("/healthz")
                        time.sleep(0.01)

                started = time.perf_counter()
                prober = threading.Thread(target=healthz_loop)
                prober.start()
                failures = run_patients(args.patients, lambda n: Patient(base, args.think, seed=n), codes,
                                        after_intake=intake_done,
                                        open_start=True)  # the request mix of the figures in docs/benchmarks.md
                stop.set()
                prober.join()
                elapsed = time.perf_counter() - started
            finally:
                server.terminate()
                server.wait(timeout=30)

        timings: dict[str, list[float]] = {}
        for line in log.read_text().splitlines():
            match = re.match(r"(GET|POST) (\S+) (\d+) ([\d.]+)ms$", line)
            if match:
                method, rule, status, ms = match.groups()
                timings.setdefault(f"{method} {rule} {status}", []).append(float(ms))

    def row(name: str, values: list[float]) -> str:
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        return f"  {name:<44} {len(values):>7} {statistics.median(values):>9.1f} {p95:>8.1f}"

    print(f"web questionnaire: {args.patients} patients at once (pause before each page: {args.think:g} s on average), {done[0]} intakes in {elapsed:.1f} s "
          f"({done[0] / elapsed:.1f} intakes/s); {load()}")
    if failures:
        print(f"  FAILURES: {len(failures)}; first: {failures[0]}")
    print(f"  {'server-side time per request':<44} {'count':>7} {'median ms':>9} {'p95 ms':>8}")
    baseline = timings.get("GET /healthz 200", [])
    for key in sorted(timings, key=lambda k: -len(timings[k])):
        print(row(key, timings[key]))
    question = timings.get("POST /intake/questions/<qid> 303", [])
    if question and baseline:
        print(f"  question page with its draft save / healthz (median): "
              f"{statistics.median(question) / statistics.median(baseline):.1f}x; "
              f"p95 {sorted(question)[int(len(question) * 0.95)]:.1f} ms (target < 25 ms)")
    print("  server memory (RSS) after N intakes: " + ", ".join(f"{n}: {kib / 1024:.1f} MiB" for n, kib in memory))


if __name__ == "__main__":
    main()
