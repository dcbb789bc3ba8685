"""What Spanish costs on the patient web pages. Prints numbers; asserts nothing.

    python benchmarks/bench_web_language.py [--runs 30]

In one process, through Flask's test client (no network): the same whole intake (code, every question
page and its answer with its draft save, check answers, send, confirmation) answered ``--runs`` times
in English and ``--runs`` times in Spanish, alternating, on one store. Printed: the median time of a
question page with its save, of the check page and of the confirmation in each language, and the
Spanish time as a ratio of the English one (the baseline, measured in the same run); and the time to
load and check the Spanish texts once, when the app is built.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from support.web import FULL_INTAKE, Clock, Patient, make_app
    from triage.records import invites
    from triage.core.languages import load_language
    from triage.core.questionnaire import load_definition
    from triage.core.ruleset import load_ruleset
    from triage.core.settings import load_settings
    from triage.records.store import open_store
    from triage.channels.web.messages import load_messages

    definition, ruleset, settings = load_definition(), load_ruleset(), load_settings()
    load_messages()  # the English, already there without Spanish
    started = time.perf_counter()
    load_language("es", questionnaire=definition, ruleset=ruleset, settings=settings, check_all=False)
    load_messages(language="es")
    spanish_load_ms = (time.perf_counter() - started) * 1000

    timings: dict[tuple[str, str], list[float]] = {}
    planned = dict(FULL_INTAKE)
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "triage.db"
        app = make_app(db, clock=Clock())
        for run in range(args.runs * 2):
            language = ("en", "es")[run % 2]
            code = invites.new_code()
            with open_store(db) as store:
                store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="bench",
                                    language=language)
            patient = Patient(app.test_client()).open_code(code)
            patient.get("/intake/questions/fusion_date")

            def timed(kind: str, action) -> None:
                began = time.perf_counter()
                action()
                timings.setdefault((kind, language), []).append((time.perf_counter() - began) * 1000)

            while patient.question:
                fields = planned.get(patient.question, {"answer": "no"})
                timed("question page + save", lambda: patient.answer(**fields))
            timed("check page", lambda: patient.get("/intake/check"))
            timed("send + confirmation", lambda: patient.post())
            assert patient.path == "/intake/done", patient.path
    print(f"patient web pages, {args.runs} whole intakes per language (Flask test client, one process)")
    print(f"  {'median ms':<26} {'English':>8} {'Spanish':>8} {'es/en':>6}")
    for kind in ("question page + save", "check page", "send + confirmation"):
        en, es = (statistics.median(timings[(kind, lang)]) for lang in ("en", "es"))
        print(f"  {kind:<26} {en:8.2f} {es:8.2f} {es / en:6.2f}")
    print(f"  loading and checking the Spanish texts once (at app start): {spanish_load_ms:.0f} ms")


if __name__ == "__main__":
    main()
