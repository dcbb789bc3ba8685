"""The web's small words (issue 29 item 5), through Flask's test client: one minute in the singular
in both languages, the saved page saying when the code stops working, leaving in its own words, the
whole date outlined when the date is missing, and no hint or thanks said twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from triage.records import invites  # noqa: E402
from triage.core.questionnaire import spoken_date  # noqa: E402
from triage.records.store import open_store  # noqa: E402
from support import ROOT  # noqa: E402
from support.web import Clock, Patient, answer_all, invite, make_app  # noqa: E402


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "triage.db"


def app_with_idle(db, tmp_path, minutes: int):
    settings = tmp_path / "clinic.toml"
    settings.write_text((ROOT / "settings" / "default.toml").read_text().replace(
        "patient_idle_minutes = 15", f"patient_idle_minutes = {minutes}"))
    return make_app(db, clock=Clock(), settings_path=settings)


def opened(app, db, language: str = "en") -> tuple[Patient, str]:
    code, _ = invite(db)
    visitor = Patient(app.test_client()).get(f"/intake/language/{language}?next=/intake/")
    visitor.post("/intake/", code=code)
    assert visitor.path == "/intake/start"
    return visitor, code


def warning_text(page: str) -> str:
    return re.search(r'<p id="idle-warning-text" class="idle-warning__text">([^<]+)</p>', page).group(1)


@pytest.mark.parametrize("idle, language, expected", [
    (2, "en", "this page will close in 1 minute. "),
    (2, "es", "se va a cerrar en 1 minuto. "),
    (4, "en", "this page will close in 2 minutes. "),
    (4, "es", "se va a cerrar en 2 minutos. "),
])
def test_the_idle_warning_says_one_minute_in_the_singular(db, tmp_path, idle, language, expected):
    visitor, _ = opened(app_with_idle(db, tmp_path, idle), db, language)
    assert expected in warning_text(visitor.page)


def test_too_many_tries_and_the_intro_say_one_minute_in_the_singular():
    from triage.channels.web.messages import load_messages

    for language, word in (("en", "1 minute"), ("es", "1 minuto")):
        messages = load_messages(language=language)
        for key in ("too_many_text_one", "intro_idle_one", "idle_warning_one"):
            assert word in messages.text(key) and f"{word}s" not in messages.text(key), (language, key)


def test_the_saved_page_says_when_the_code_stops_working(db):
    app = make_app(db, clock=Clock())
    visitor, code = opened(app, db)
    visitor.get("/intake/questions/fusion_date").answer(month="3", year="2024", later="1")
    with open_store(db) as store:
        expires = store.find_invite(invites.code_hash(code)).expires_at
    assert f"Your code works until {spoken_date(expires[:10])}." in visitor.text


def test_leaving_has_its_own_words_and_the_idle_end_keeps_its_own(db):
    app = make_app(db, clock=Clock())
    visitor, _ = opened(app, db)
    visitor.get("/intake/saved").post("/intake/leave")
    assert "You left the questionnaire" in visitor.text
    assert "For your privacy" not in visitor.text
    idle, _ = opened(app, db)
    idle.post("/intake/leave", data={"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', idle.page).group(1)})
    assert "For your privacy, we closed the questionnaire" in idle.text  # the idle warning's own form


@pytest.mark.parametrize("form, outlined", [
    ({}, ["day", "month", "year"]),  # nothing entered: the whole date
    ({"month": "3", "answer": "unknown"}, ["day", "month", "year"]),  # a date and "I don't know"
    ({"month": "13", "year": "2024"}, ["month"]),  # one box wrong: only that box
    ({"month": "3", "year": "24"}, ["year"]),
])
def test_a_date_error_outlines_the_whole_date_or_only_the_wrong_box(db, form, outlined):
    visitor, _ = opened(make_app(db, clock=Clock()), db)
    visitor.get("/intake/questions/fusion_date").answer(**form)
    assert visitor.status == 400
    marked = re.findall(r'class="input input--width-\d input--error"\s+id="fusion_date-([a-z]+)"', visitor.page)
    assert marked == outlined


def test_no_hint_repeats_the_question_or_says_select_one(db):
    visitor, _ = opened(make_app(db, clock=Clock()), db)
    for qid in ("surgical_report_available", "pain_location", "red_flag_bladder_bowel"):
        page = visitor.get(f"/intake/questions/{qid}").text
        assert "Select one answer" not in page, qid
    pain_quality = visitor.get("/intake/questions/pain_quality").text
    assert "Select all that apply" not in pain_quality  # the question says "Choose all that fit"
    page = visitor.get("/intake/questions/pain_score").page
    pain_score = " ".join(re.sub(r"<[^>]+>", " ", page[page.index("<main"):]).split())
    assert pain_score.count("10 means the worst pain") == 0 and pain_score.count("(the worst pain you can imagine)") == 1


def test_the_done_page_says_thank_you_once(db):
    visitor, _ = opened(make_app(db, clock=Clock()), db)
    answer_all(visitor.get("/intake/questions/fusion_date"))
    visitor.post()
    assert visitor.path == "/intake/done"
    assert visitor.text.count("Thank you") == 1


def _every_question_unanswered(db, language: str) -> dict[str, str]:
    """Each question a patient is asked, sent with nothing chosen: its error, as the summary says it."""
    from support.web import errors
    from triage.core.questionnaire import load_questionnaire

    code = invites.new_code()
    with open_store(db) as store:  # every question asked: a veteran with an MRI
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator",
                            answers={"veteran": "yes", "mri_available": "yes"})
    visitor = Patient(make_app(db, clock=Clock()).test_client()).get(f"/intake/language/{language}?next=/intake/")
    visitor.post("/intake/", code=code)
    found = {}
    for item in load_questionnaire().items:
        if "patient" not in item.audience or item.type == "partial_date":
            continue
        visitor.get(f"/intake/questions/{item.id}").answer()
        assert visitor.status == 400, item.id
        found[item.id] = errors(visitor.page)[0]
    return found


@pytest.mark.parametrize("language, generic, drive", [
    ("en", ("Select an answer", "Select at least one answer"), "more than 60 minutes"),
    ("es", ("Elija una respuesta", "Elija al menos una respuesta"), "más de 60 minutos"),
])
def test_each_question_says_in_its_own_words_what_to_select(db, language, generic, drive):
    found = _every_question_unanswered(db, language)
    assert len(found) == 26
    assert [qid for qid, text in found.items() if text.startswith(generic)] == []
    assert len(set(found.values())) == len(found)  # no two questions share a sentence
    assert drive in found["va_drive_time_over_standard"]  # the clinic's setting, filled in
    yes = "Select yes if " if language == "en" else "Elija sí si "
    assert all(text.startswith(yes) for qid, text in found.items() if qid.startswith(("red_flag_", "va_")))
