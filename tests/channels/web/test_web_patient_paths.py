"""The patient's path on the web (issue 25 items 3 and 7): the pages always say the most urgent thing
answered so far, the emergency card's first action is getting help (a call, or the reception desk on
a kiosk), and no question is ever skipped silently (changes that open questions, check reached
midway, sending with warning-sign questions unanswered, Back links, and kiosk code limits)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("flask")

from triage.decision.patient_summary import red_flag_instructions  # noqa: E402
from triage.core.ruleset import load_ruleset  # noqa: E402
from triage.core.settings import Settings, load_settings  # noqa: E402
from triage.records.store import open_store  # noqa: E402
from triage.channels.web.patient import SENT_WITHOUT_WARNING_SIGNS  # noqa: E402
from support import ROOT  # noqa: E402
from support.web import FULL_INTAKE, Clock, Patient, answer_all, errors, invite, make_app  # noqa: E402
from support.web_fixtures import clock, store_and_app  # noqa: E402,F401 (fixtures)

RULESET = load_ruleset()
SETTINGS = load_settings()
VA_QUESTIONS = ["va_enrolled", "va_drive_time_over_standard", "va_wait_over_standard", "va_no_full_service_facility",
                "va_referral"]


db, app = store_and_app()


def started(app, db) -> tuple[Patient, int]:
    code, intake_id = invite(db)
    visitor = Patient(app.test_client()).open_code(code)
    assert visitor.path == "/intake/start", errors(visitor.page)
    link = re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1)
    return visitor.get(link), intake_id


def answer_until(visitor: Patient, stop: str, overrides: dict[str, dict] | None = None) -> Patient:
    """Answer question after question (the red-flag pages' Continue too) until ``stop`` is shown."""
    planned = {**dict(FULL_INTAKE), **(overrides or {})}
    for _ in range(60):
        if "/intake/warning/" in visitor.path:
            visitor.post(choice="continue")
            continue
        if visitor.question == stop:
            return visitor
        assert visitor.question, visitor.path
        visitor.answer(**planned.get(visitor.question, {"answer": "no"}))
    raise AssertionError(f"{stop} was never asked")


def tier_class(tier: str) -> str:
    return f"care-card--{tier.replace('_', '-')}"


def cards(page: str) -> list[str]:
    """The care cards of a page, in order, by tier."""
    return [tier.replace("-", "_") for tier in re.findall(r'class="care-card care-card--([a-z-]+)"', page)]


# --- 25.3: the most urgent thing first ---------------------------------------------------------------

def test_an_emergency_yes_then_a_soon_yes_keeps_the_emergency_card_with_the_soon_answer_added(app, db):
    visitor, _ = started(app, db)
    answer_until(visitor, "red_flag_saddle_numbness").answer(answer="yes")
    assert cards(visitor.page) == ["emergency"]
    visitor.post(choice="continue")
    answer_until(visitor, "red_flag_immunosuppression").answer(answer="yes")
    assert visitor.path.startswith("/intake/warning/red_flag_immunosuppression")
    assert cards(visitor.page) == ["emergency", "soon"]  # the emergency leads; the soon answer is added
    assert "<title>Get help now" in visitor.page
    assert re.search(r"<h1 class=\"care-card__heading\">.*Get help now</h1>", visitor.page)
    text = " ".join(visitor.text.split())
    assert red_flag_instructions("emergency", RULESET, SETTINGS) in text
    assert red_flag_instructions("soon", RULESET, SETTINGS) in text
    assert "Your last answer also needs the clinic team to know" in text
    visitor.post(choice="continue")
    answer_all(visitor)
    assert visitor.path == "/intake/check" and cards(visitor.page)[0] == "emergency"
    visitor.post()
    assert visitor.path == "/intake/done" and cards(visitor.page) == ["emergency"]


def test_the_emergency_cards_first_action_is_a_call_to_the_clinics_emergency_number(db, clock, tmp_path):
    settings = tmp_path / "clinic.toml"
    settings.write_text((ROOT / "settings" / "default.toml").read_text().replace(
        'emergency_number = "911"', 'emergency_number = "+1 555-0100"'))
    visitor, _ = started(make_app(db, clock=clock, settings_path=settings), db)
    answer_until(visitor, "red_flag_bladder_bowel").answer(answer="yes")
    call = re.search(r'<a class="button button--call" href="([^"]+)">([^<]+)</a>', visitor.page)
    assert call and call.groups() == ("tel:+15550100", "Call +1 555-0100")
    # Continuing is a secondary action, after the call.
    continuing = re.search(r'<button type="submit" class="([^"]+)" name="choice" value="continue">', visitor.page)
    assert continuing.group(1) == "button button--secondary"
    assert visitor.page.index("tel:+15550100") < visitor.page.index('value="continue"')
    assert "Tell the reception desk now" not in visitor.page


def test_a_same_day_or_soon_card_alone_keeps_continue_as_its_main_action(app, db):
    visitor, _ = started(app, db)
    answer_until(visitor, "red_flag_fever_or_wound").answer(answer="yes")
    assert cards(visitor.page) == ["same_day"] and 'href="tel:' not in visitor.page
    assert '<button type="submit" class="button" name="choice" value="continue">' in visitor.page


def test_on_a_kiosk_the_emergency_card_says_tell_the_desk_and_the_alert_is_marked_kiosk(db, clock):
    tablet = make_app(db, clock=clock, kiosk=True)
    visitor = Patient(tablet.test_client()).get("/intake/").post("/intake/new")
    visitor.get("/intake/start")
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_until(visitor, "red_flag_both_legs").answer(answer="yes")
    assert "Tell the reception desk now" in visitor.text
    assert 'href="tel:' not in visitor.page and "button--call" not in visitor.page
    with open_store(db) as store:
        alerts = store.open_alerts()
    assert [(a.question, a.kiosk) for a in alerts] == [("red_flag_both_legs", True)]
    intake_id = alerts[0].intake_id
    # A phone's alert is not marked kiosk.
    phone, phone_id = started(make_app(db, clock=clock), db)
    answer_until(phone, "red_flag_both_legs").answer(answer="yes")
    with open_store(db) as store:
        assert {(a.intake_id, a.kiosk) for a in store.open_alerts()} == {(intake_id, True), (phone_id, False)}


def test_staff_see_that_a_kiosk_alerts_patient_is_in_the_clinic(db, clock):
    from support.web import add_staff, sign_in

    tablet = make_app(db, clock=clock, kiosk=True)
    visitor = Patient(tablet.test_client()).get("/intake/").post("/intake/new")
    visitor.get("/intake/start")
    visitor.get(re.search(r'href="(/intake/questions/[a-z_]+)"', visitor.page).group(1))
    answer_until(visitor, "red_flag_clot_signs").answer(answer="yes")
    phone, _ = started(make_app(db, clock=clock), db)
    answer_until(phone, "red_flag_clot_signs").answer(answer="yes")
    add_staff(db, "cora", "coordinator")
    staff = sign_in(make_app(db, clock=clock).test_client(), "cora").get("/staff/alerts")
    assert staff.page.count("at the reception tablet: go to the patient") == 1


def test_the_done_page_leads_with_the_care_card_and_says_sending_alerts_no_one(app, db):
    visitor, _ = started(app, db)
    answer_all(visitor, {"red_flag_clot_signs": {"answer": "yes"}})
    visitor.post()
    assert visitor.path == "/intake/done"
    page = visitor.page[visitor.page.index('<main'):]
    assert page.index("care-card--emergency") < page.index("Answers sent")
    assert 'class="panel"' not in page  # no green "the clinic has it" panel above an emergency
    assert "Do not wait for a call" in visitor.text and "does not alert anyone right away" in visitor.text
    assert "tel:911" in page


def test_without_a_red_flag_the_done_page_is_the_plain_confirmation(app, db):
    visitor, _ = started(app, db)
    answer_all(visitor)
    visitor.post()
    assert 'class="panel"' in visitor.page and "care-card" not in visitor.page
    assert "Do not wait for a call" not in visitor.text


@pytest.mark.parametrize("number, ok", [("911", True), ("112", True), ("+44 20 7946-0000", True), ("9", True),
                                        ("call 911", False), ("", False), ("911 or 112", False),
                                        ("the number on your letter", False), ("91-", False)])
def test_the_emergency_number_must_be_one_a_phone_can_dial(number, ok):
    if ok:
        assert Settings(emergency_number=number).emergency_tel == "".join(c for c in number if c.isdigit() or c == "+")
    else:
        with pytest.raises(ValueError, match="a number a phone can dial"):
            Settings(emergency_number=number)


# --- 25.7: no question skipped silently --------------------------------------------------------------

@pytest.mark.parametrize("changed, value, opened", [
    ("veteran", "yes", VA_QUESTIONS),
    ("mri_available", "yes", ["mri_date", "annular_tear_levels"]),
])
def test_a_change_that_opens_several_questions_asks_each_before_check(app, db, changed, value, opened):
    visitor, intake_id = started(app, db)
    answer_all(visitor, {"veteran": {"answer": "no"}, "mri_available": {"answer": "no"}})
    assert visitor.path == "/intake/check"
    visitor.get(f"/intake/questions/{changed}?change=1").answer(answer=value)
    asked = []
    planned = dict(FULL_INTAKE)
    while visitor.question:
        asked.append(visitor.question)
        visitor.answer(**planned.get(visitor.question, {"answer": "no"}))
    assert asked == opened and visitor.path == "/intake/check"
    assert "Not answered yet" not in visitor.page
    visitor.post()
    with open_store(db) as store:
        record = store.get(intake_id)
    assert all(qid in record.answers for qid in opened)


def test_check_reached_midway_lists_what_is_still_unanswered(app, db):
    visitor, _ = started(app, db)
    answer_until(visitor, "pain_location")
    visitor.get("/intake/check")
    assert "These questions are not answered yet" in visitor.text
    listed = re.search(r'id="unanswered-title">.*?</ul>', visitor.page, re.S).group(0)
    assert "/intake/questions/pain_location?change=1" in listed
    assert "/intake/questions/red_flag_bladder_bowel?change=1" in listed
    assert "/intake/questions/fusion_date" not in listed  # answered
    assert visitor.page.count("Not answered yet") >= 10
    # Answering from the list goes on to the next unanswered question, then back to check.
    visitor.get("/intake/questions/pain_location?change=1").answer(answer="back")
    assert visitor.question == "pain_quality"


def test_sending_with_unanswered_warning_sign_questions_asks_for_them_first(app, db):
    visitor, intake_id = started(app, db)
    answer_until(visitor, "red_flag_bladder_bowel")
    visitor.get("/intake/check").post()
    assert visitor.path == "/intake/check" and "Please answer the questions about warning signs" in visitor.text
    with open_store(db) as store:
        assert store.history(intake_id) == []  # nothing sent yet
    links = re.findall(r'<li><a href="(/intake/questions/red_flag_[a-z_]+\?change=1)">', visitor.page)
    assert len(links) == 10  # every warning-sign question, each a link to answer it
    # Answering them (and the rest) then sending is an ordinary web version.
    visitor.get(links[0])
    planned = dict(FULL_INTAKE)
    while visitor.question:
        visitor.answer(**planned.get(visitor.question, {"answer": "no"}))
    assert visitor.path == "/intake/check" and "Not answered yet" not in visitor.page
    visitor.post()
    assert visitor.path == "/intake/done"
    with open_store(db) as store:
        assert store.get(intake_id).source == "web"


def test_sending_anyway_stays_possible_and_is_recorded_as_such(app, db):
    visitor, intake_id = started(app, db)
    answer_until(visitor, "red_flag_bladder_bowel")
    visitor.get("/intake/check").post()
    assert 'name="anyway" value="1"' in visitor.page
    visitor.post(anyway="1")
    assert visitor.path == "/intake/done"
    with open_store(db) as store:
        assert store.get(intake_id).source == SENT_WITHOUT_WARNING_SIGNS


def test_red_flag_pages_and_check_have_a_back_link(app, db):
    visitor, _ = started(app, db)
    answer_until(visitor, "red_flag_bladder_bowel").answer(answer="yes")
    back = re.search(r'<a href="([^"]+)" class="back-link">', visitor.page)
    assert back and back.group(1) == "/intake/questions/red_flag_bladder_bowel"
    visitor.post(choice="continue")
    answer_all(visitor)
    back = re.search(r'<a href="([^"]+)" class="back-link">', visitor.page)
    assert visitor.path == "/intake/check"
    assert back and back.group(1) == "/intake/questions/veteran"  # the last question asked (not a veteran)


def test_on_a_kiosk_one_patients_wrong_codes_do_not_lock_the_tablet_for_the_next(db, clock):
    tablet = make_app(db, clock=clock, kiosk=True)
    first = Patient(tablet.test_client()).get("/intake/")
    for _ in range(10):
        first.post("/intake/", code="AAAAA-AAAAA")
    first.post("/intake/", code="AAAAA-AAAAB")
    assert first.status == 429  # that code (its first half) has had its tries
    code, _ = invite(db)
    following = Patient(tablet.test_client()).open_code(code)  # the next patient, the same address
    assert following.path == "/intake/start"


def test_away_from_a_kiosk_the_limit_stays_per_address(app, db):
    visitor = Patient(app.test_client()).get("/intake/")
    for _ in range(10):
        visitor.post("/intake/", code="AAAAA-AAAAA")
    code, _ = invite(db)
    assert Patient(app.test_client()).open_code(code).status == 429


# --- the property: any sequence of answers and changes -----------------------------------------------

from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st  # noqa: E402

from triage.decision.patient_summary import most_urgent_tier  # noqa: E402
from triage.core.questionnaire import load_questionnaire  # noqa: E402

RED_FLAGS = [item.id for item in load_questionnaire().items if item.safety]
# Every other answer a patient gives, as the store keeps it (the red flags start as "no").
BASE_ANSWERS = {"fusion_date": "2024-03", "fused_levels": ["L4-L5"], "surgical_report_available": "yes",
                "mri_available": "no", "pain_location": "back", "pain_quality": ["aching"],
                "pain_pattern_since_surgery": "never_improved", "pain_score": 6, "hardware_problem_known": "no",
                "mechanical_symptoms": "no", "veteran": "no", **{flag: "no" for flag in RED_FLAGS}}

STEPS = st.lists(st.one_of(
    st.tuples(st.just("answer"), st.sampled_from(RED_FLAGS), st.sampled_from(["yes", "no", "unknown"]),
              st.sampled_from(["continue", "stop"])),
    st.tuples(st.just("check")),
), max_size=8)


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                             HealthCheck.too_slow])
@given(steps=STEPS)
def test_the_warning_check_and_done_pages_show_the_highest_tier_answered_yes_so_far(tmp_path_factory, steps):
    """Whatever the patient answers and changes, in any order, every page that shows a care card
    shows first the card of the most urgent tier among the red flags answered yes as the answers
    stand (a yes changed to no is no longer an answer; its staff alert stays, in the store)."""
    from triage.records import invites

    db = tmp_path_factory.mktemp("property") / "triage.db"
    code = invites.new_code()
    with open_store(db) as store:
        store.create_invite(invites.code_hash(code), expires_at=invites.expiry(7), user="coordinator",
                            answers=dict(BASE_ANSWERS))
    app = make_app(db, clock=Clock())
    visitor = Patient(app.test_client()).open_code(code)
    answers = dict(BASE_ANSWERS)

    def top() -> str | None:
        return most_urgent_tier([flag for flag in RED_FLAGS if answers[flag] == "yes"], RULESET)

    def expect(page: str, where: str, added: str | None = None) -> None:
        shown = cards(page)
        tier = top()
        assert shown[:1] == ([tier] if tier else []), (where, steps, shown)
        if added is not None and added != tier:
            assert shown == [tier, added], (where, steps, shown)

    for step in steps:
        if step[0] == "check":
            expect(visitor.get("/intake/check").page, "check")
            continue
        _, flag, value, choice = step
        was_yes = answers[flag] == "yes"
        visitor.get(f"/intake/questions/{flag}?change=1").answer(answer=value)
        answers[flag] = value
        if value == "yes" and not was_yes:
            assert visitor.path.startswith(f"/intake/warning/{flag}"), (steps, visitor.path)
            expect(visitor.page, "warning", added=RULESET.red_flag_tier(flag))
            visitor.post(choice=choice)
            if choice == "stop":
                assert visitor.path == "/intake/stopped"
                expect(visitor.page, "stopped")
        else:
            assert visitor.path == "/intake/check", (steps, visitor.path)
            expect(visitor.page, "check")
    visitor.get("/intake/check").post()
    assert visitor.path == "/intake/done", (steps, visitor.path)
    expect(visitor.page, "done")


def test_a_kiosk_alert_is_kept_as_such_on_every_backend(store_location):
    """The store API's optional field: an alert raised at the reception tablet says so, on SQLite and
    PostgreSQL alike, and the audit chain still verifies."""
    with open_store(store_location) as store:
        # saving the answer raises its alert (the store does, whatever the channel), marked kiosk or not
        tablet = store.save_draft({"red_flag_both_legs": "yes"}, user="patient-web", kiosk=True).intake_id
        phone = store.save_draft({"red_flag_both_legs": "yes"}, user="patient-web").intake_id
        assert {(a.intake_id, a.kiosk) for a in store.open_alerts()} == {(tablet, True), (phone, False)}
        assert store.verify_audit().ok
