"""Golden files of the patient web pages in Spanish (tests/data/golden/web/es/*.html): each kind of
page rendered by the app through Flask's test client, on a fixed day, with what changes from run to
run (form tokens, invitation codes, the code's expiry) replaced by a fixed mark. Regenerate with
`python tests/regen.py web` and review the diff; never edit them by hand."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from support import DATA
from support.web import Clock, Patient, answer_all, make_app

GOLDEN_WEB = DATA / "golden" / "web"
LANGUAGE = "es"


def golden_path(name: str, language: str = LANGUAGE) -> Path:
    return GOLDEN_WEB / language / f"{name}.html"


def _normalise(page: str, codes: list[str]) -> str:
    page = re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1CSRF-TOKEN"', page)
    for code in codes:
        page = page.replace(code, "CODE0-CODE0")
    # the kiosk code's expiry is days from now (the real clock): a fixed mark
    return re.sub(r"(hasta el )\d{1,2} de [a-z]+ de \d{4}", r"\1EXPIRY", page)


def render_all(language: str = LANGUAGE) -> dict[str, str]:
    """Every kind of patient page, by name, in ``language`` (HTML as served)."""
    from triage.records import invites
    from triage.records.store import open_store

    pages: dict[str, str] = {}
    codes: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "store" / "triage.db"
        app = make_app(db, clock=Clock())  # a patient's own phone
        tablet = make_app(db, clock=Clock(), kiosk=True)  # the reception tablet, for its code page

        def invite() -> str:
            code = invites.new_code()
            codes.append(code)
            with open_store(db) as store:
                store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator",
                                    language=language)
            return code

        def keep(name: str, visitor: Patient) -> None:
            pages[name] = visitor.page

        # Getting in: the start page, a wrong code, too many tries, the kiosk's code page.
        visitor = Patient(app.test_client()).get(f"/intake/code/{invite()}?lang={language}")
        keep("start", visitor)
        visitor.post("/intake/", code="")
        keep("start-error", visitor)
        kiosk = Patient(tablet.test_client()).get(f"/intake/language/{language}?next=/intake/")
        kiosk.post("/intake/new")
        codes.append(re.search(r'<p class="code-display">([A-Z0-9-]+)</p>', kiosk.page).group(1))
        keep("your-code", kiosk)

        # One whole intake: every kind of question, an error, notices, a red flag, check, confirmation.
        code = invite()
        visitor = Patient(app.test_client()).open_code(code)
        keep("intro", visitor)
        visitor.get("/intake/questions/fusion_date")
        keep("question-date", visitor)
        visitor.answer()
        keep("question-error", visitor)
        visitor.answer(month="3", year="2024")
        keep("question-levels", visitor)
        visitor.answer(answer=["L4-L5", "L5-S1"])
        keep("question-yes-no", visitor)
        answer_all(visitor)
        keep("check", visitor)
        for name, qid in (("question-choice", "pain_location"), ("question-multi", "pain_quality"),
                          ("question-score", "pain_score")):
            keep(name, visitor.get(f"/intake/questions/{qid}"))
        for tier, qid in (("emergency", "red_flag_saddle_numbness"), ("same-day", "red_flag_fever_or_wound"),
                          ("soon", "red_flag_immunosuppression")):
            visitor.get(f"/intake/questions/{qid}?change=1").answer(answer="yes", change="1")
            keep(f"red-flag-{tier}", visitor)
            if qid != "red_flag_saddle_numbness":  # the emergency one stays: the confirmation shows its card
                visitor.get(f"/intake/questions/{qid}?change=1").answer(answer="no", change="1")
        visitor.get("/intake/questions/mri_available?change=1").answer(answer="no", change="1")
        visitor.get("/intake/questions/annular_tear_levels")  # hidden now: 404, the plain page
        keep("not-found", visitor)
        visitor.get("/intake/questions/mri_available?change=1")
        keep("question-hidden-notice", visitor)
        visitor.answer(answer="yes", change="1")
        visitor.get("/intake/questions/veteran?change=1").answer(answer="yes", change="1")
        keep("question-revealed-notice", visitor)
        visitor.get("/intake/questions/surgical_report_available?change=1")
        keep("question-change", visitor)
        visitor.get("/intake/stopped")
        keep("stopped", visitor)
        visitor.get("/intake/questions/pain_score").answer(answer="7", later="1")
        keep("saved", visitor)
        stale = visitor.get("/intake/questions/pain_score").page
        visitor.get("/intake/check").post()
        keep("done", visitor)
        visitor.page = stale
        visitor.path = "/intake/questions/pain_score"

        # Leaving and coming back; two devices.
        code = invite()
        visitor = Patient(app.test_client()).open_code(code)
        visitor.get("/intake/questions/fusion_date").answer(month="6", year="2023")
        other = Patient(app.test_client()).open_code(code)
        keep("intro-resume", other)
        other.get("/intake/questions/fused_levels").answer(answer="unknown")
        visitor.answer(answer="unknown")  # based on an older revision
        keep("conflict", visitor)
        visitor.post("/intake/leave")
        keep("ended", visitor)
        tries = Patient(app.test_client()).get(f"/intake/language/{language}?next=/intake/")
        for _ in range(11):
            tries.post("/intake/", code="AAAAA-AAAAA")
            if tries.status == 429:  # (the page has no form to post again)
                break
        keep("too-many-tries", tries)
    return {name: _normalise(page, codes) for name, page in sorted(pages.items())}
