"""How fast `triage intake` is, as figures (no timed assertions anywhere).

    python benchmarks/bench_intake.py [RUNS]

Prints the median wall time of, in fresh processes:
  - `triage assess FILE`                         (baseline: start-up + one assessment)
  - `triage intake` with a full intake piped in  (start-up + 30 answers, each validated and saved + result)
  - `triage intake` at a terminal until the first question is on screen
and, in process, the median time of one answer (interpret + contract check + skip logic) and of one
atomic save, so the cost a person waits for after pressing Enter is visible.
"""

from __future__ import annotations

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
LINES = ["P-1", "2026-11-24", "2024-03", "L4-5 L5-S1", "y", "y", "09/2025", "L3-4", "3", "2 3", "1", "7",
         "n", "n", *["n"] * 10, "y", "y", "n", "u", "n", "y"]


def wall(command: list[str], stdin: str | None, cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=cwd, check=True)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    cli = [sys.executable, str(ROOT / "cli.py")]
    with tempfile.TemporaryDirectory() as folder:
        piped = "".join(f"{line}\n" for line in LINES)
        subprocess.run([*cli, "intake", "--out", "seed.json"], input=piped, capture_output=True, text=True,
                       cwd=folder, check=True)
        assess = [wall([*cli, "assess", "seed.json"], None, folder) for _ in range(runs)]
        intake = []
        for n in range(runs):
            intake.append(wall([*cli, "intake", "--out", f"run{n}.json"], piped, folder))

        import pexpect  # the test extra; a pseudo-terminal shows when a person can start typing

        first_prompt = []
        for n in range(runs):
            start = time.perf_counter()
            child = pexpect.spawn(cli[0], [*cli[1:], "intake", "--out", f"tty{n}.json"], cwd=folder,
                                  env={"TERM": "dumb", "NO_COLOR": "1", "PATH": "/usr/bin:/bin"},
                                  encoding="utf-8", timeout=30)
            child.expect_exact("Patient reference")
            first_prompt.append(time.perf_counter() - start)
            child.sendintr()
            child.expect(pexpect.EOF)
            child.close()

        from triage.records.drafts import FileDraft
        from triage.core.interview import Interview, interpret
        from triage.core.questionnaire import load_questionnaire

        questionnaire = load_questionnaire()
        answer_times, save_times = [], []
        store = FileDraft(Path(folder) / "inproc.json")
        for _ in range(runs * 20):
            interview = Interview(questionnaire, "coordinator", today=date(2026, 11, 24))
            for line in LINES:
                item = interview.current
                start = time.perf_counter()
                interview.answer(item, interpret(item, line, mode="coordinator",
                                                 default=interview.default(item)).value)
                answer_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            store.save(interview.answers)
            save_times.append(time.perf_counter() - start)

    base = statistics.median(assess)
    print(f"runs: {runs}")
    print(f"triage assess FILE (baseline):         {base * 1000:7.1f} ms")
    print(f"triage intake, 30 answers piped:       {statistics.median(intake) * 1000:7.1f} ms "
          f"({statistics.median(intake) / base:.2f}x baseline)")
    print(f"triage intake, first prompt on screen: {statistics.median(first_prompt) * 1000:7.1f} ms "
          f"({statistics.median(first_prompt) / base:.2f}x baseline)")
    print(f"one answer (read + check + skip logic): {statistics.median(answer_times) * 1e6:6.0f} us")
    print(f"one atomic save (write, fsync, rename): {statistics.median(save_times) * 1e6:6.0f} us")


if __name__ == "__main__":
    main()
