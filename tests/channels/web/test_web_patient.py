"""The patient web questionnaire through Flask's test client: every route, every error, the code,
skip logic with kept answers, red-flag pages, nothing lost, two devices, security headers and logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

pytest.importorskip("flask")

from triage.core.answers import parse_answers  # noqa: E402
from triage.decision.assess import assess  # noqa: E402
from triage.core.questionnaire import load_questionnaire  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import load_settings  # noqa: E402
from triage.records.drafts import StoreDraft  # noqa: E402
from triage.records.store import open_store  # noqa: E402
from support.web import FULL_INTAKE, TODAY, Patient, answer_all, errors, hidden, invite, make_app  # noqa: E402
from support.web_fixtures import clock, store_and_app  # noqa: E402,F401 (fixtures)
from support import ROOT  # noqa: E402

Q = load_questionnaire()


db, app = store_and_app()


def patient(app) -> Patient:
    return Patient(app.test_client())


def started(app, db, **invite_options) -> tuple[Patient, int, str]:
    code, intake_id = invite(db, **invite_options)
    visitor = patient(app).open_code(code)
    assert visitor.path == "/intake/start", errors(visitor.page)
    return visitor, intake_id, code


def first_question(visitor: Patient) -> Patient:
    link = re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1)
    return visitor.get(link)


# --- service routes -------------------------------------------------------------------------------

def test_healthz_is_200_with_no_data_and_no_cookie(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert "Set-Cookie" not in response.headers


def test_root_goes_to_the_start_page_which_has_lang_and_a_code_field(app):
    visitor = patient(app).get("/")
    assert visitor.path == "/intake/"
    assert '<html lang="en">' in visitor.page
    assert 'name="code"' in visitor.page and '<label class="label label--m" for="code">' in visitor.page
    assert "Start a new questionnaire" not in visitor.page  # only with --kiosk


@pytest.mark.parametrize("path", ["/nowhere", "/intake/nothing-here", "/static/../triage.db"])
def test_unknown_pages_are_a_plain_404_page(app, path):
    response = app.test_client().get(path)
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "Page not found" in text and "Traceback" not in text


def test_a_question_not_asked_is_not_found_even_with_a_session(app, db):
    visitor, _, _ = started(app, db)
    for qid in ("not_a_question", "patient_id", "assessment_date", "mri_date"):  # mri_date: not asked yet
        assert visitor.client.get(f"/intake/questions/{qid}").status_code == 404


def test_every_page_has_the_security_headers(app):
    response = app.test_client().get("/intake/")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookies_are_secure_behind_https(db, clock):
    app = make_app(db, clock=clock, secure_cookies=True)
    cookie = app.test_client().get("/intake/", base_url="https://clinic.example").headers["Set-Cookie"]
    assert "Secure" in cookie


def test_pages_use_no_inline_script_or_style_and_nothing_from_elsewhere(app, db):
    visitor, _, _ = started(app, db)
    pages = [visitor.page, first_question(visitor).page]
    for page in pages:
        assert "<script>" not in page and " style=" not in page and "<style" not in page
        assert not re.search(r'(src|href)="(https?:)?//', page)


# --- the code -------------------------------------------------------------------------------------

def test_invite_link_prefills_the_code_but_opens_nothing_until_start(app, db):
    code, _ = invite(db)
    visitor = patient(app).get(f"/intake/code/{code.lower().replace('-', '')}")
    assert f'value="{code}"' in visitor.page
    assert patient(app).get("/intake/start").path == "/intake/"  # no session opened by the GET


@pytest.mark.parametrize("typed, message", [
    ("", "Enter your code"),
    ("12345", "Enter the code as it is written, with 10 letters and numbers, like 7KQ4M-X2RHD"),
    ("AAAAA-AAAAA", "This code does not work. Check it, or ask the clinic for a new one"),
])
def test_wrong_codes_get_a_plain_error_linked_to_the_field(app, typed, message):
    visitor = patient(app).get("/intake/").post("/intake/", code=typed)
    assert visitor.status == 400
    assert errors(visitor.page) == [message]
    assert 'href="#code"' in visitor.page
    assert visitor.page.count(message.replace('"', "&#34;")) == 2  # summary and inline: the same words


def test_codes_are_read_without_case_spaces_or_dashes(app, db):
    code, _ = invite(db)
    visitor = patient(app).open_code(" " + code.lower().replace("-", " ") + " ")
    assert visitor.path == "/intake/start"


def test_an_expired_code_stops_working_and_a_sent_intake_s_code_opens_only_the_records_page(app, db):
    expired, _ = invite(db, days=-1)
    assert errors(patient(app).open_code(expired).page) == ["This code does not work. Check it, or ask the clinic for a new one"]
    visitor, _, code = started(app, db)
    answer_all(first_question(visitor))
    visitor.post()  # send
    assert visitor.path == "/intake/done"
    # Coming back with the code after sending (issue 30): adding photos of records, nothing else.
    again = patient(app).open_code(code)
    assert again.path == "/intake/records" and again.status == 200
    for elsewhere in ("/intake/start", "/intake/check", "/intake/done", "/intake/questions/fusion_date",
                      "/intake/warning/red_flag_bladder_bowel", "/intake/stopped"):
        assert again.get(elsewhere).path == "/intake/records", elsewhere
    assert "2024" not in again.page  # no answer is shown


def test_wrong_codes_are_rate_limited_per_client_then_released(app, db, clock):
    code, _ = invite(db)
    visitor = patient(app).get("/intake/")
    for _ in range(10):
        visitor.post("/intake/", code="AAAAA-AAAAA")
        assert visitor.status == 400
    visitor.post("/intake/", code=code)  # even the right code: the limit is on the client
    assert visitor.status == 429 and "Too many tries" in visitor.page
    clock.advance(15 * 60 + 1)
    visitor.get("/intake/").post("/intake/", code=code)
    assert visitor.path == "/intake/start"


def test_a_code_opens_only_its_own_intake(app, db):
    mine, mine_id, _ = started(app, db)
    other_code, other_id = invite(db, patient_id="PT-OTHER")
    first_question(mine).answer(month="3", year="2024")
    with open_store(db) as store:
        assert store.load_draft(mine_id).answers == {"fusion_date": "2024-03"}
        assert store.load_draft(other_id).answers == {"patient_id": "PT-OTHER"}
    # No route takes an intake id: the session's intake is the only one a patient can reach.
    rules = [rule.rule for rule in mine.client.application.url_map.iter_rules() if rule.rule.startswith("/intake")]
    assert not any("<int:" in rule or "intake" in rule.removeprefix("/intake") for rule in rules)


def test_kiosk_starts_a_new_intake_and_shows_its_code(db, clock):
    app = make_app(db, clock=clock, kiosk=True)
    visitor = patient(app).get("/intake/")
    assert "Start a new questionnaire" in visitor.page
    visitor.post("/intake/new")
    assert visitor.path == "/intake/your-code"
    shown = re.search(r'class="code-display">([^<]+)<', visitor.page).group(1)
    again = patient(app).open_code(shown)
    assert again.path == "/intake/start"


def test_kiosk_start_is_not_offered_without_kiosk(app):
    visitor = patient(app).get("/intake/").post("/intake/new")
    assert visitor.status == 404


# --- CSRF, sizes, errors --------------------------------------------------------------------------

def test_a_form_without_its_token_is_refused_with_a_plain_page(app, db):
    visitor, _, _ = started(app, db)
    first_question(visitor)
    response = visitor.client.post(visitor.path, data={"month": "3", "year": "2024", "revision": "1"})
    assert response.status_code == 400
    assert "Sorry, that did not work" in response.get_data(as_text=True)
    response = visitor.client.post(visitor.path, data={"month": "3", "year": "2024", "revision": "1",
                                                       "csrf_token": "forged"})
    assert response.status_code == 400


def test_a_post_from_another_site_is_refused(app, db):
    visitor, _, _ = started(app, db)
    first_question(visitor)
    response = visitor.client.post(visitor.path, headers={"Origin": "https://evil.example"},
                                   data={"csrf_token": hidden(visitor.page, "csrf_token"), "month": "3",
                                         "year": "2024", "revision": "1"})
    assert response.status_code == 400


def test_a_huge_post_is_refused_with_a_plain_page(app):
    response = app.test_client().post("/intake/", data={"code": "A" * 200_000})
    assert response.status_code == 413
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_internal_error_is_a_plain_500_page_without_details(app, db, monkeypatch):
    visitor, _, _ = started(app, db)
    from triage.channels.web import patient as patient_pages

    def broken(*args, **kwargs):
        raise RuntimeError("PT-SECRET internal detail")

    monkeypatch.setattr(patient_pages, "_asked", broken)
    response = visitor.client.get("/intake/start")
    text = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in text
    assert "PT-SECRET" not in text and "Traceback" not in text and "RuntimeError" not in text


def test_the_access_log_never_holds_a_code_an_answer_or_a_patient_reference(app, db, caplog):
    caplog.set_level(logging.DEBUG)
    code, _ = invite(db, patient_id="PT-SECRET-4711")
    visitor = patient(app).get(f"/intake/code/{code}")
    visitor.post("/intake/", code=code)
    answer_all(first_question(visitor))
    visitor.post()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /intake/questions/<qid> 303" in logged
    for secret in (code, code.replace("-", ""), "PT-SECRET", "2024-03", "L4-L5", "back_and_leg"):
        assert secret not in logged


# --- the questionnaire ----------------------------------------------------------------------------

def test_question_page_shape_progress_help_back_and_unknown(app, db):
    visitor, _, _ = started(app, db)
    first_question(visitor)
    page = visitor.page
    assert f"Question 1 of {len(Q.items) - 2}" in page  # every question a patient may be asked
    assert "<fieldset" in page and "<legend" in page and f"<h1 class=\"fieldset__heading\">{Q.item('fusion_date').text}" in page
    assert "<details" in page and Q.item("fusion_date").help in page
    assert 'href="/intake/start"' in page  # back link
    assert "I don&#39;t know" in page
    for part in ("day", "month", "year"):
        assert f'for="fusion_date-{part}"' in page


def test_progress_counts_follow_skip_logic(app, db):
    visitor, _, _ = started(app, db)
    first_question(visitor)
    answer_all(visitor, {"mri_available": {"answer": "no"}, "veteran": {"answer": "no"}})
    visitor.get("/intake/questions/pain_location")
    asked = Q.asked({"mri_available": "no", "veteran": "no"}, "patient")
    number = [i.id for i in asked].index("pain_location") + 1
    assert f"Question {number} of {len(asked)}" in visitor.page  # both follow-ups ruled out: 28 - 2 - 5
    assert len(asked) == len(Q.items) - 2 - 2 - 5


@pytest.mark.parametrize("veteran", ["yes", "no"])
def test_progress_total_never_grows_as_the_patient_answers(app, db, veteran):
    """Review row 28: "Question 23 of 23", then "Question 24 of 28". M counts the questions that may
    still be asked, as the terminal does: it can only shrink when an answer rules questions out."""
    visitor, _, _ = started(app, db)
    first_question(visitor)
    seen = []
    overrides = {"mri_available": {"answer": "yes"}, "veteran": {"answer": veteran}}
    for _ in range(40):
        if visitor.question is None:
            if "/intake/warning/" in visitor.path:
                visitor.post(choice="continue")
                continue
            break
        number, total = map(int, re.search(r"Question (\d+) of (\d+)", visitor.page).groups())
        seen.append((number, total))
        planned = overrides.get(visitor.question) or dict(FULL_INTAKE).get(visitor.question) or {"answer": "no"}
        visitor.answer(**planned)
    totals = [total for _, total in seen]
    assert totals == sorted(totals, reverse=True), seen  # never grows
    assert [number for number, _ in seen] == list(range(1, len(seen) + 1))
    if veteran == "yes":
        assert seen[-1][0] == seen[-1][1] == len(Q.items) - 2  # the last question is "N of N"
    else:  # the veteran question comes last; its five follow-ups could still be asked while it shows
        assert seen[-1] == (len(Q.items) - 2 - 5, len(Q.items) - 2)


def test_a_year_alone_is_read_as_the_safer_month_and_the_next_page_says_so(app, db):
    """Review row 15: the help says "If you only know the year, type the year"; the page takes it,
    as the terminal does (the fusion as late as possible), and says what it will use."""
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(year="2024")
    assert visitor.status == 200 and visitor.question == "fused_levels"
    assert "You gave only the year, so we will use December 2024 to be safe." in visitor.page
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {"fusion_date": "2024-12"}
    visitor.answer(answer=["L4-L5"])
    assert "You gave only the year" not in visitor.page  # said once


def test_a_month_typed_by_name_as_the_help_writes_it_is_taken(app, db):
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(month="June", year="2024")
    assert visitor.status == 200 and visitor.question == "fused_levels"
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {"fusion_date": "2024-06"}


@pytest.mark.parametrize("form, message", [
    ({}, 'Enter the month and year of your fusion surgery, or select "I don\'t know"'),
    ({"month": "13", "year": "2024"}, "Month must be a number from 1 to 12"),
    ({"month": "3", "year": "24"}, "Year must have 4 numbers, like 2024"),
    ({"month": "3", "year": "1024"}, "Year must be 1900 or later"),
    ({"day": "30", "month": "2", "year": "2024"}, "Day must be a real day of that month, or leave it empty"),
    ({"month": "12", "year": "2026"}, "That date is in the future"),
    ({"day": "28", "month": "11", "year": "2026"}, "That date is in the future"),
    ({"month": "3", "year": "2024", "answer": "unknown"}, 'Enter a date or select "I don\'t know", not both'),
])
def test_date_errors_say_what_to_do_and_keep_what_was_typed(app, db, form, message):
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(**form)
    assert visitor.status == 400
    assert errors(visitor.page) == [message]
    assert visitor.page.startswith("<!doctype html>") and "<title>Error: " in visitor.page
    if form.get("year"):
        assert f'value="{form["year"]}"' in visitor.page  # nothing typed is lost
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {}


@pytest.mark.parametrize("form, stored", [
    ({"month": "3", "year": "2024"}, "2024-03"),
    ({"month": "03", "year": "2024", "day": ""}, "2024-03"),
    ({"day": "9", "month": "3", "year": "2024"}, "2024-03-09"),
    ({"answer": "unknown"}, "unknown"),
])
def test_a_month_stays_a_month(app, db, form, stored):
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(**form)
    assert visitor.question == "fused_levels"
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["fusion_date"] == stored
    visitor.get("/intake/questions/fusion_date")
    if stored == "2024-03":
        assert 'id="fusion_date-day" name="day" type="text" inputmode="numeric"\n                 maxlength="2" value=""' in visitor.page


@pytest.mark.parametrize("picked, message", [
    ([], 'Select the levels of your lower back that were fused, or select "I don\'t know"'),
    (["L4-L5", "unknown"], 'Select only "I don\'t know", or uncheck it'),
    (["L4-L5", "T11-T12"], "That answer could not be used. Check it and try again"),
])
def test_levels_checkboxes_are_checked_on_the_server(app, db, picked, message):
    visitor, _, _ = started(app, db)
    first_question(visitor).answer(month="3", year="2024")
    visitor.answer(answer=picked)
    assert visitor.status == 400 and errors(visitor.page) == [message]


def test_none_excludes_the_other_levels(app, db):
    visitor, intake_id, _ = started(app, db)
    answer_all(first_question(visitor), {"annular_tear_levels": {"answer": ["none"]}})
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["annular_tear_levels"] == []
    visitor.get("/intake/questions/annular_tear_levels")
    visitor.answer(answer=["none", "L3-L4"])
    assert errors(visitor.page) == ['Select only "None", or uncheck it']


def test_i_dont_know_on_a_choice_is_not_answered_and_shown_as_such(app, db):
    visitor, intake_id, _ = started(app, db)
    answer_all(first_question(visitor), {"pain_location": {"answer": "unknown"}})
    with open_store(db) as store:
        assert "pain_location" not in store.load_draft(intake_id).answers  # never a guessed value
    row = re.search(r"Where is your pain now\?</dt>\s*<dd[^>]*>([^<]*)<", visitor.page).group(1)
    assert row == "I don&#39;t know"


def test_whole_intake_is_recorded_as_a_web_version_equal_to_triage_assess(app, db):
    visitor, intake_id, _ = started(app, db, patient_id="PT-1")
    answer_all(first_question(visitor))
    assert visitor.path == "/intake/check"
    assert visitor.page.count(">Change<") == len(Q.asked({"mri_available": "yes"}, "patient"))
    visitor.post()
    assert visitor.path == "/intake/done"
    with open_store(db) as store:
        record = store.get(intake_id)
        assert store.load_draft(intake_id) is None
    assert record.source == "web" and record.version == 1
    assert record.answers["patient_id"] == "PT-1"
    assert record.answers["fusion_date"] == "2024-03" and record.answers["mri_date"] == "2026-09"
    assert record.answers["assessment_date"] == TODAY.isoformat()
    same = assess(parse_answers(record.answers, today=TODAY), load_ruleset(), load_settings())
    assert record.result == same.to_json()


def test_the_end_page_shows_only_what_a_patient_may_see(app, db):
    visitor, _, _ = started(app, db)
    answer_all(first_question(visitor), {"surgical_report_available": {"answer": "no"},
                                         "red_flag_major_trauma": {"answer": "yes"}})
    visitor.post()
    page = visitor.page
    ruleset = load_ruleset()
    text = visitor.text
    assert ruleset.missing_items["surgical_report"].to_bring in text
    assert Q.questionnaire.patient_outro in text
    assert "care-card--emergency" in page
    for word in ("urgent", "records_needed", "ready_for_evaluation", "too_early", "Step ", "regenerative",
                 "stimulation", "discuss", "to_do", "not_applicable"):
        assert word not in text, word
    for point in ruleset.discussion_points.values():
        assert point.text[:30] not in text


def test_check_answers_change_returns_to_check(app, db):
    visitor, intake_id, _ = started(app, db)
    answer_all(first_question(visitor))
    visitor.get(re.search(r'href="(/intake/questions/pain_score\?change=1)"', visitor.page).group(1))
    assert 'href="/intake/check"' in visitor.page  # back goes to the check page
    visitor.answer(answer="3")
    assert visitor.path == "/intake/check"
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["pain_score"] == 3


def test_a_change_that_hides_questions_keeps_their_answers_until_sent(app, db):
    visitor, intake_id, _ = started(app, db)
    answer_all(first_question(visitor))
    visitor.get("/intake/questions/mri_available?change=1").answer(answer="no")
    assert visitor.path == "/intake/check"
    assert "When was that MRI taken?" not in visitor.page
    assert "Answers to questions that no longer apply are not sent." in visitor.page
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["mri_date"] == "2026-09"  # kept in the draft
    # Undo: the answers come back, the notice said so.
    visitor.get("/intake/questions/mri_available?change=1").answer(answer="yes")
    assert visitor.path == "/intake/check"
    assert "September 2026" in visitor.page
    # Hide again and send: hidden answers are not sent.
    visitor.get("/intake/questions/mri_available?change=1").answer(answer="no")
    visitor.post()
    with open_store(db) as store:
        record = store.get(intake_id)
    assert "mri_date" not in record.answers and "annular_tear_levels" not in record.answers


def test_the_hidden_notice_names_the_questions_no_longer_asked(app, db):
    visitor, _, _ = started(app, db)
    answer_all(first_question(visitor))
    visitor.get("/intake/questions/mri_available").answer(answer="no")
    assert visitor.question == "pain_location"
    assert "Because of this answer, we will not ask these questions:" in visitor.page
    assert "When was that MRI taken?" in visitor.page


def test_a_change_that_opens_a_question_asks_it_before_returning_to_check(app, db):
    visitor, _, _ = started(app, db)
    answer_all(first_question(visitor), {"mri_available": {"answer": "no"}})
    visitor.get("/intake/questions/mri_available?change=1").answer(answer="yes")
    assert visitor.question == "mri_date"
    assert hidden(visitor.page, "change") == "1"


# --- red flags ------------------------------------------------------------------------------------

def test_a_yes_to_a_red_flag_shows_its_instruction_at_once(app, db):
    visitor, intake_id, _ = started(app, db)
    first_question(visitor)
    answer_all(visitor, {"red_flag_bladder_bowel": {"answer": "yes"}})  # continues past the warning
    visitor.get("/intake/questions/red_flag_bladder_bowel").answer(answer="no")
    visitor.get("/intake/questions/red_flag_bladder_bowel").answer(answer="yes")
    assert visitor.path.startswith("/intake/warning/red_flag_bladder_bowel")
    ruleset, settings = load_ruleset(), load_settings()
    from triage.decision.patient_summary import red_flag_instructions

    instruction = red_flag_instructions("emergency", ruleset, settings)
    assert instruction in visitor.text
    assert "care-card--emergency" in visitor.page
    visitor.post(choice="continue")
    assert visitor.question == "red_flag_saddle_numbness"


def test_stopping_after_a_red_flag_keeps_everything(app, db):
    visitor, intake_id, code = started(app, db)
    first_question(visitor)
    for _ in range(40):
        if visitor.question == "red_flag_bladder_bowel":
            break
        answer_all  # noqa: B018
        from support.web import FULL_INTAKE

        visitor.answer(**dict(FULL_INTAKE).get(visitor.question, {"answer": "no"}))
    visitor.answer(answer="yes")
    visitor.post(choice="stop")
    assert visitor.path == "/intake/stopped"
    assert "You stopped the questions" in visitor.page and "care-card--emergency" in visitor.page
    with open_store(db) as store:
        draft = store.load_draft(intake_id)
    assert draft.answers["red_flag_bladder_bowel"] == "yes" and draft.answers["fusion_date"] == "2024-03"
    again = patient(visitor.client.application).open_code(code)  # the code still works: not sent
    assert again.path == "/intake/start" and "Continue where you left off" in again.page


def test_red_flag_page_is_only_for_a_yes(app, db):
    visitor, _, _ = started(app, db)
    visitor.get("/intake/warning/red_flag_bladder_bowel")
    assert visitor.question == "red_flag_bladder_bowel"


def test_the_continue_target_cannot_leave_the_site(app, db):
    visitor, _, _ = started(app, db)
    answer_all(first_question(visitor), {"red_flag_bladder_bowel": {"answer": "yes"}})
    visitor.get("/intake/warning/red_flag_bladder_bowel?next=https://evil.example/")
    response = visitor.client.post("/intake/warning/red_flag_bladder_bowel",
                                   data={"csrf_token": hidden(visitor.page, "csrf_token"), "choice": "continue",
                                         "next": "//evil.example/"})
    assert response.headers["Location"] == "/intake/check"


# --- nothing lost ---------------------------------------------------------------------------------

def test_leave_and_return_with_the_code_continues_where_it_stopped(app, db):
    visitor, intake_id, code = started(app, db)
    first_question(visitor).answer(month="3", year="2024")
    visitor.answer(answer=["L4-L5"], later="1")
    assert visitor.path.startswith("/intake/saved")
    assert code in visitor.page
    visitor.post("/intake/leave")
    assert visitor.path == "/intake/ended?left=1" and "You left the questionnaire" in visitor.page
    assert visitor.get("/intake/start").path == "/intake/"  # the session is gone
    back = patient(app).open_code(code)
    assert "Continue where you left off" in back.page
    link = re.search(r'href="(/intake/questions/[a-z_]+)"', back.page).group(1)
    assert link == "/intake/questions/surgical_report_available"


def test_save_and_come_back_later_with_nothing_chosen_saves_nothing_new(app, db):
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(later="1")
    assert visitor.path.startswith("/intake/saved")
    with open_store(db) as store:
        assert store.load_draft(intake_id).revision == 1


def test_each_continue_saves_quickly_an_unchanged_answer_writes_nothing_and_leaving_saves_durably(app, db, monkeypatch):
    """The draft save at each Continue does not wait for the disk (durable=False); Continue with the
    answer already saved writes nothing (no new revision, no audit row); "Save and come back later",
    which the patient leaves on, waits for the disk."""
    from triage.records.store import Store

    saves: list[bool] = []
    real = Store.save_draft
    monkeypatch.setattr(Store, "save_draft", lambda self, *a, **k: saves.append(k.get("durable", True)) or real(self, *a, **k))
    visitor, intake_id, _ = started(app, db)
    first_question(visitor).answer(month="3", year="2024")
    assert saves == [False]
    visitor.get("/intake/questions/fusion_date").answer(month="3", year="2024")  # back, Continue unchanged
    assert visitor.question == "fused_levels" and saves == [False]
    with open_store(db) as store:
        assert store.load_draft(intake_id).revision == 2  # the invitation's 1, then one save
    visitor.answer(answer=["L4-L5"], later="1")
    assert visitor.path.startswith("/intake/saved") and saves == [False, True]
    with open_store(db) as store:
        draft = store.load_draft(intake_id)
        assert (draft.revision, draft.answers) == (3, {"fusion_date": "2024-03", "fused_levels": ["L4-L5"]})
        assert store.verify_audit().ok


def test_an_idle_session_ends_and_the_answers_stay(app, db, clock):
    visitor, intake_id, code = started(app, db)
    first_question(visitor).answer(month="3", year="2024")
    assert 'data-idle-seconds="900"' in visitor.page
    clock.advance(15 * 60 + 1)
    visitor.get("/intake/questions/fused_levels")
    assert visitor.path == "/intake/ended"
    assert "For your privacy, we closed the questionnaire" in visitor.page
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers == {"fusion_date": "2024-03"}


def test_staying_active_keeps_the_session(app, db, clock):
    visitor, _, _ = started(app, db)
    first_question(visitor)
    for _ in range(3):
        clock.advance(14 * 60)
        response = visitor.client.post("/intake/still-here", data={"csrf_token": hidden(visitor.page, "csrf_token")})
        assert response.status_code == 204
    assert visitor.get("/intake/questions/fusion_date").path == "/intake/questions/fusion_date"


def test_two_devices_never_silently_overwrite_each_other(app, db):
    phone, intake_id, code = started(app, db)
    tablet = patient(app).open_code(code)
    first_question(phone)
    first_question(tablet)
    phone.answer(month="3", year="2024")
    tablet.answer(month="5", year="2023")
    assert tablet.status == 409 and "changed somewhere else" in tablet.page
    with open_store(db) as store:
        assert store.load_draft(intake_id).answers["fusion_date"] == "2024-03"
    tablet.get("/intake/questions/fusion_date")  # reload: now based on the latest answers
    assert 'value="2024"' in tablet.page
    tablet.answer(month="5", year="2023")
    assert tablet.question == "fused_levels"


def test_sending_from_a_stale_check_page_is_refused(app, db):
    phone, intake_id, code = started(app, db)
    answer_all(first_question(phone))
    tablet = patient(app).open_code(code).get("/intake/check")
    phone.get("/intake/questions/pain_score?change=1").answer(answer="2")
    tablet.post()
    assert tablet.status == 409
    with open_store(db) as store:
        assert store.load_draft(intake_id) is not None and not store.history(intake_id)


def test_terminal_and_web_continue_the_same_intake(app, db):
    visitor, intake_id, code = started(app, db)
    first_question(visitor).answer(month="3", year="2024")
    with open_store(db) as store:  # the coordinator continues in the terminal (`--resume-intake`)
        drafts = StoreDraft(store, "anna", intake_id)
        assert drafts.load() == {"fusion_date": "2024-03"}
        drafts.save({**drafts.load(), "fused_levels": ["L4-L5"]})
    visitor.get("/intake/questions/fused_levels")
    assert 'value="L4-L5" checked' in visitor.page
    visitor.answer(answer=["L4-L5", "L5-S1"])
    with open_store(db) as store:
        assert StoreDraft(store, "anna", intake_id).load()["fused_levels"] == ["L4-L5", "L5-S1"]


def test_after_sending_the_pages_lead_to_the_confirmation(app, db):
    visitor, _, _ = started(app, db)
    answer_all(first_question(visitor))
    visitor.post()
    for path in ("/intake/questions/fusion_date", "/intake/check", "/intake/start"):
        assert visitor.get(path).path == "/intake/done"


# --- the texts ------------------------------------------------------------------------------------

def test_every_web_message_id_used_exists_and_every_message_is_used():
    from triage.channels.web.messages import load_messages

    messages = load_messages().messages
    web = Path(__file__).resolve().parents[3] / "triage" / "channels" / "web"
    sources = "\n".join(path.read_text(encoding="utf-8") for path in [*web.glob("templates/*.html"), *(p for p in web.glob("*.py") if p.stem != "cds_hooks")])
    used = set(re.findall(r"""\bt\(\s*['"]([a-z_]+)['"]""", sources))
    used |= set(re.findall(r"""FieldError\(\s*['"]([a-z_]+)['"]""", sources))
    used |= set(re.findall(r"""error\s*=\s*['"]([a-z_]+)['"]""", sources))
    used |= set(re.findall(r"""\.text\(\s*['"]([a-z_]+)['"]""", sources))
    for pair in re.findall(r"""page\(\d+, ['"]([a-z_]+)['"], ['"]([a-z_]+)['"]\)""", sources):
        used |= set(pair)
    used = {key for key in used if not key.endswith("_")}  # prefixes completed at run time (below)
    used |= {f"{prefix}{tier}" for prefix in ("tier_label_", "tier_heading_") for tier in ("emergency", "same_day", "soon")}
    used |= {f"date_{part}" for part in ("day", "month", "year")}
    used |= {"error_date_missing", "error_date_missing_fusion_date", "error_date_missing_mri_date"}
    used |= {f"{key}_one" for key in ("too_many_text", "intro_idle", "idle_warning")}  # one minute, in the singular
    from triage.channels.web.forms import MISSING_IN_OWN_WORDS

    used |= {f"error_missing_{qid}" for qid in MISSING_IN_OWN_WORDS}  # picked by question id
    used |= {"error_select_many"}  # their fallback, for a checkbox question without words of its own
    used |= {"left_title", "left_text", "date_hint", "levels_hint"}  # (a hint is picked by the question's type)  # the ended page after the patient's own "Leave"
    # Records (issue 30): picked by record item and by the reason a file was refused.
    from triage.core.errors import UploadRefused
    from triage.records.uploads import RECORD_ITEMS

    used |= {f"{prefix}{item}{suffix}" for item in RECORD_ITEMS
             for prefix, suffix in (("records_item_", ""), ("records_item_", "_hint"), ("checklist_", ""),
                                    ("checklist_", "_how"))}
    used |= {f"records_error_{reason}" for reason in UploadRefused.REASONS} | {"records_added_one"}
    assert sorted(used - set(messages)) == []
    assert sorted(set(messages) - used) == []


def test_web_texts_pass_the_wording_rules():
    from triage.channels.web.messages import load_messages
    from support.wording import forbidden_in

    for key, text in load_messages().messages.items():
        assert forbidden_in(text) is None, (key, text)


def test_a_token_authenticated_blueprint_is_registered_in_one_line_without_csrf(db, clock):
    """CDS Hooks (triage/channels/web/cds_hooks.py) authenticates every call with a signed bearer token: its
    POSTs carry no CSRF token and may be larger than a form; every other POST still needs the token."""
    from flask import Blueprint, request

    api = Blueprint("cds_hooks", __name__)

    @api.post("/cds-services/echo")
    def echo():
        return {"size": len(request.get_data())}

    app = make_app(db, clock=clock, blueprints=[api])
    response = app.test_client().post("/cds-services/echo", data=b"x" * 200_000, content_type="application/json")
    assert response.status_code == 200 and response.json == {"size": 200_000}
    assert response.headers["Cache-Control"] == "no-store"
    assert app.test_client().post("/intake/", data={"code": "AAAAA-AAAAA"}).status_code == 400


@pytest.mark.parametrize("flag, tier", [("red_flag_bladder_bowel", "emergency"), ("red_flag_fever_or_wound", "same_day"),
                                        ("red_flag_cancer_or_weight_loss", "soon")])
def test_each_tier_has_its_own_care_card_and_instruction(app, db, flag, tier):
    from triage.decision.patient_summary import red_flag_instructions

    ruleset = load_ruleset()
    assert ruleset.red_flag_tier(flag) == tier  # the rules file decides the tier, not the page
    visitor, intake_id, _ = started(app, db)
    answer_all(first_question(visitor), {flag: {"answer": "yes"}})
    visitor.get(f"/intake/questions/{flag}").answer(answer="no")
    visitor.get(f"/intake/questions/{flag}").answer(answer="yes")
    assert visitor.path.startswith(f"/intake/warning/{flag}")
    assert f"care-card--{tier.replace('_', '-')}" in visitor.page
    assert red_flag_instructions(tier, ruleset, load_settings()) in visitor.text
    with open_store(db) as store:
        assert [(a.question, a.urgency) for a in store.open_alerts() if a.intake_id == intake_id] == [(flag, tier)]


def test_without_javascript_an_idle_page_is_covered_when_the_session_ends(db, clock, tmp_path):
    """No script can warn, so the intro says the limit up front; pages with an open intake link a
    stylesheet whose delay is the idle limit (it covers the page then: tested in a real browser)."""
    settings = tmp_path / "clinic.toml"
    settings.write_text((ROOT / "settings" / "default.toml").read_text().replace("patient_idle_minutes = 15",
                                                                                 "patient_idle_minutes = 7"))
    app = make_app(db, clock=clock, settings_path=settings)
    start_page = patient(app).get("/intake/")
    assert "idle.css" not in start_page.page and "idle-cover" not in start_page.page  # nothing open yet
    visitor, _, _ = started(app, db)
    assert "closes if you do nothing for 7 minutes" in visitor.text
    for page in (visitor.page, first_question(visitor).page):
        assert '<link rel="stylesheet" href="/intake/idle.css">' in page
        assert 'id="idle-cover"' in page and "idle-hidden-after" in page
    response = visitor.client.get("/intake/idle.css")
    assert response.status_code == 200 and response.mimetype == "text/css"
    css = response.get_data(as_text=True)
    assert ".idle-cover { animation: idle-show 0s linear 420s forwards; }" in css
    assert ".idle-hidden-after { animation: idle-hide 0s linear 420s forwards; }" in css
    # Loading it is not activity: the idle time still counts from the last page.
    clock.advance(6 * 60)
    visitor.client.get("/intake/idle.css")
    clock.advance(61 + 1)
    assert visitor.get("/intake/questions/fusion_date").path == "/intake/ended"
