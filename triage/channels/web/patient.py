"""The patient's pages under /intake/: code, questions (one per page), red-flag instruction, check
answers, confirmation. A patient never sees a result, a status, a step or a discussion point: the
end pages are built from triage.decision.patient_summary, which picks only what a patient may see.

State lives in the store (the draft of the intake, saved at each Continue) and in a server-side
session that knows only which intake this browser opened with its code. Every form carries the draft
revision it showed; a save based on an older revision is refused (two devices never silently
overwrite each other).

Every page is in the patient's language (English or Spanish: triage.core.languages), kept in the session:
the invitation's language when a code opens an intake, or the one chosen with the language switch at
the top of every page. Answers are stored by id and value, so they are the same in either language;
the language is recorded with the intake when it is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from triage.records import invites
from triage.core.answers import parse_answers
from triage.decision.assess import assess
from triage.core.errors import Conflict, InvalidInput
from triage.core.interview import check_answer, hidden_answers, progress_total, without_hidden
from triage.core.languages import DEFAULT_LANGUAGE, LANGUAGES, OWN_NAMES
from triage.decision.patient_summary import most_urgent_tier, patient_summary, red_flag_instructions
from triage.core.questionnaire import Item
from triage.decision.result import Result
from triage.channels.web import forms
from triage.channels.web.services import services
from triage.channels.web.sessions import idle_stylesheet

blueprint = Blueprint("patient", __name__, url_prefix="/intake")

PATIENT_USER = "patient-web"  # who saved a draft or recorded an intake from these pages, in the audit log
# The source of a version the patient chose to send with warning-sign questions still unanswered.
SENT_WITHOUT_WARNING_SIGNS = "web:sent-with-warning-signs-unanswered"
MODE = "patient"


# --- state ------------------------------------------------------------------------------------------

@dataclass
class Intake:
    """The intake this browser opened, as the store has it now."""

    id: int
    answers: dict[str, Any]  # the draft (answers to hidden questions included)
    revision: int
    base_version: int
    submitted: bool


def _current() -> Intake | None:
    intake_id = session.get("intake")
    if intake_id is None:
        return None
    store = services().store()
    if session.get("records_only"):
        # Opened with a code after the answers were sent: only the records pages, never a draft
        # (the clinic may have one open on this intake by now).
        history = store.history(intake_id)
        return Intake(intake_id, {}, 0, history[-1].version if history else 0, True)
    draft = store.load_draft(intake_id)
    if draft is None:
        history = store.history(intake_id)
        latest = history[-1].version if history else 0
        return Intake(intake_id, {}, 0, latest, latest > session.get("base", 0))
    return Intake(intake_id, draft.answers, draft.revision, draft.base_version, False)


def _require() -> Intake:
    """The session's intake, or off to the start (or the end, once it was sent)."""
    intake = _current()
    if intake is None:
        abort(_to("patient.ended" if getattr(session, "ended_by_idle", False) else "patient.start"))
    return intake


def _to(endpoint: str, **values):
    return redirect(url_for(endpoint, **values), code=303)


def _q():
    """The questionnaire in this patient's language (ids, types and skip logic as in English)."""
    return services().patient().questionnaire


def _asked(answers: dict[str, Any]) -> list[Item]:
    return _q().asked(answers, MODE)


def _unknown_marks() -> set[str]:
    return set(session.get("unknown", []))


def _texts() -> dict[str, str]:
    questionnaire = _q()
    wording = questionnaire.patient_wording
    return {"yes": wording.yes, "no": wording.no, "none": wording.none,
            "unknown": questionnaire.questionnaire.unknown_text}


def _page(template: str, **context):
    questionnaire = _q()
    return render_template(template, q=questionnaire, wording=questionnaire.patient_wording,
                           idle=_idle_context(), languages=language_switch(), get_help=_get_help(), **context)


def _get_help() -> dict[str, Any]:
    """The emergency card's first action: on a phone or computer a link that dials the emergency
    number; on the reception tablet, telling the desk (the patient is in the clinic, and the alert
    says so)."""
    settings = services().settings
    return {"kiosk": bool(session.get("kiosk", services().kiosk)), "number": settings.emergency_number,
            "tel": settings.emergency_tel}


def language_switch() -> list[dict[str, Any]]:
    """The language switch of every patient page: each language in its own words, the current one
    marked, the others a link back to this very page (GOV.UK's language toggle is a plain link)."""
    here = request.path + (f"?{request.query_string.decode('ascii', 'replace')}" if request.query_string else "")
    current = services().language()
    return [{"code": code, "name": OWN_NAMES[code], "current": code == current,
             "url": url_for("patient.switch_language", code=code, next=here)} for code in LANGUAGES]


def _idle_context() -> dict[str, int] | None:
    """What the page script needs to warn before an idle session ends (only with an open intake)."""
    if session.get("intake") is None:
        return None
    minutes = services().settings.patient_idle_minutes
    return {"seconds": minutes * 60, "warn_seconds": min(120, minutes * 30)}


# --- getting in -------------------------------------------------------------------------------------

@blueprint.get("/")
def start():
    if _current() is not None and not _current().submitted:
        return _to("patient.intro")
    return _page("start.html", code=session.pop("carried_code", ""), error=None, kiosk=services().kiosk)


@blueprint.get("/code/<code>")
def start_with_code(code: str):
    """The link `triage invite` prints: the start page with the code filled in (nothing is opened
    until the patient presses Start, a form with a CSRF token)."""
    lang = request.args.get("lang")
    if lang in LANGUAGES:  # `triage invite --lang es` links open the start page in Spanish
        _choose(lang)
    return _page("start.html", code=(invites.normalise(code) or "")[:20], error=None, kiosk=services().kiosk)


@blueprint.post("/")
def open_code():
    svc = services()
    typed = request.form.get("code", "")[:40]
    code = invites.normalise(typed)
    client = _limit_key(code)
    refused = _code_attempt_refused(client)
    if refused:
        return refused
    if not typed.strip():
        error = "code_error_missing"
    elif code is None:
        error = "code_error_form"
    else:
        invite = svc.store().find_invite(invites.code_hash(code))
        if invite is None or invite.expires_at <= _now() or (invite.submitted and svc.kiosk):
            error = "code_error_wrong"  # one answer for unknown and expired: no oracle for guessers
        elif invite.submitted:
            # The answers were sent: the code, until it expires, opens only the page for adding
            # photos or PDFs of records (never the answers again, nor a draft the clinic opened).
            svc.code_limiter.give_back(client)
            _open(invite.intake_id, code, None, language=invite.language)
            session["records_only"] = True
            return _to("patient.records")
        else:
            svc.code_limiter.give_back(client)  # the limits count wrong codes: a right one is not one
            _open(invite.intake_id, code, svc.store().load_draft(invite.intake_id), language=invite.language)
            return _to("patient.intro")
    _code_failed(client)
    return _page("start.html", code=typed[:20], error=forms.FieldError(error, "code"), error_text=svc.text(error),
                 kiosk=svc.kiosk), 400


def _limit_key(code: str | None) -> str:
    """Whose wrong codes count together. Elsewhere: each address. On the reception tablet every patient
    shares one address, so the tablet's failures count per code typed (its first half): one patient's
    mistyped code does not lock the tablet for the next, while each code still gets only a few tries
    (and the limiter's total for all addresses still caps guessing)."""
    client = request.remote_addr or "-"
    if not services().kiosk:
        return client
    return f"{client} kiosk {(code or '-')[:5]}"


def _code_attempt_refused(client: str):
    """Count this address's try before the code is looked up (concurrent guesses get exactly the
    allowed number: 10 wrong codes per address per 15 minutes), or the "too many tries" page.

    The limit for everyone (300 wrong codes per 15 minutes) stops guessing spread over many
    addresses, but it refuses only an address that has already typed a wrong code in this window:
    so a patient with a valid code, from any other address, still gets in however much others
    guess. A guesser with a fresh address gets one try per window; a code has 49 bits."""
    from triage.records.store import CODE_THROTTLED, GUEST_USER

    limiter = services().code_limiter
    what = None
    if not limiter.take(client):
        what = "address"
    elif limiter.everyone_reached() and limiter.estimate(client) > 1:
        limiter.give_back(client)
        what = "everyone"
    if what is None:
        return None
    if limiter.first_in_window(f"{what}:{client}"):
        services().store().audit_event(CODE_THROTTLED, user=GUEST_USER, detail={"address": request.remote_addr or "-", "limit": what})
    return _page("too_many.html", minutes=limiter.minutes), 429


def _code_failed(client: str) -> None:
    """A wrong code (already counted for the address): counted for everyone; the try that reaches a
    limit is an audit row (the address, never the code typed)."""
    from triage.records.store import CODE_LOCKED, GUEST_USER

    limiter, store = services().code_limiter, services().store()
    if limiter.estimate(client) == limiter.limit:
        store.audit_event(CODE_LOCKED, user=GUEST_USER, detail={"address": request.remote_addr or "-", "limit": "address"})
    if limiter.add(limiter.EVERYONE) == limiter.global_limit:
        store.audit_event(CODE_LOCKED, user=GUEST_USER, detail={"address": request.remote_addr or "-", "limit": "everyone"})


def _now() -> str:
    from triage.records.store import utc_now

    return utc_now()


def _open(intake_id: int, code: str, draft, language: str | None = None) -> None:
    """``language``: the invitation's; a language the patient chose on this browser before comes first."""
    chosen = session.get("lang") if session.get("lang_chosen") else None
    session.clear()
    session.regenerate()  # a fresh session id for the opened intake
    _choose(chosen or (language if language in LANGUAGES else None) or DEFAULT_LANGUAGE, by_patient=bool(chosen))
    session["intake"] = intake_id
    session["base"] = draft.base_version if draft else 0
    session["code"] = code
    session["kiosk"] = services().kiosk


@blueprint.post("/new")
def new_intake():
    """Reception tablet (`triage serve --kiosk`): a new intake with its own code, for coming back."""
    svc = services()
    if not svc.kiosk:
        abort(404)
    # A few per minute from one address, and some more from everyone: a tablet serves one patient at
    # a time; a script or a stuck key cannot fill the worklist.
    limiter, client = svc.kiosk_limiter, request.remote_addr or "-"
    if not limiter.take(client):
        return _page("too_many.html", kiosk_busy=True), 429
    if not limiter.take(limiter.EVERYONE, limiter.global_limit):
        limiter.give_back(client)
        return _page("too_many.html", kiosk_busy=True), 429
    code = invites.new_code()
    draft = svc.store().create_invite(invites.code_hash(code), expires_at=invites.expiry(invites.KIOSK_EXPIRY_DAYS),
                                      user=PATIENT_USER, language=svc.language())
    _open(draft.intake_id, code, draft)
    session["expires"] = invites.expiry(invites.KIOSK_EXPIRY_DAYS)
    return _to("patient.your_code")


@blueprint.get("/your-code")
def your_code():
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    return _page("your_code.html", code=session.get("code", ""), expires=_spoken_moment(session.get("expires")))


def _spoken_moment(stamp: str | None) -> str | None:
    from triage.core.questionnaire import spoken_date

    return spoken_date(stamp[:10], services().language()) if stamp else None


# --- the language switch ----------------------------------------------------------------------------

def _choose(language: str, *, by_patient: bool = True) -> None:
    session["lang"] = language
    session["lang_chosen"] = by_patient


def _language_target() -> str:
    target = request.args.get("next")
    if target and target.startswith("/intake/") and "//" not in target and "\\" not in target:
        return target
    return url_for("patient.start")


@blueprint.get("/language/<code>")
def switch_language(code: str):
    """The switch's link: the same page again in the other language. Answers already saved (each
    Continue saves) are kept as they are: they are ids and values, the same in every language."""
    if code not in LANGUAGES:
        abort(404)
    _choose(code)
    return redirect(_language_target(), code=303)


_QUESTION_PATH = re.compile(r"/intake/questions/([a-z_]+)")


@blueprint.post("/language/<code>")
def switch_language_keeping_entries(code: str):
    """The switch with JavaScript on, from a page with a form: what was ticked or typed and not yet
    sent with Continue comes back on the same page in the other language. It is kept in the session
    only, never saved as an answer (only Continue saves)."""
    if code not in LANGUAGES:
        abort(404)
    _choose(code)
    target = _language_target()
    question = _QUESTION_PATH.fullmatch(target.split("?", 1)[0])
    if question:
        intake = _current()
        if intake is not None and not intake.submitted:
            asked = {item.id: item for item in _asked(intake.answers)}
            if question.group(1) in asked:
                session["carried"] = {"qid": question.group(1),
                                      "state": forms.submitted(asked[question.group(1)], request.form)}
    elif target.split("?", 1)[0] == url_for("patient.start"):
        session["carried_code"] = request.form.get("code", "")[:20]
    return redirect(target, code=303)


@blueprint.get("/start")
def intro():
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    asked = _asked(intake.answers)
    answered = [n for n, item in enumerate(asked) if item.id in intake.answers or item.id in _unknown_marks()]
    if answered:
        resume = answered[-1] + 1
        target = url_for("patient.question", qid=asked[resume].id) if resume < len(asked) else url_for("patient.check")
    else:
        target = url_for("patient.question", qid=asked[0].id)
    return _page("intro.html", target=target, resuming=bool(answered))


# --- questions --------------------------------------------------------------------------------------

def _item(qid: str, intake: Intake) -> Item:
    asked = {item.id: item for item in _asked(intake.answers)}
    if qid not in asked:
        abort(404)  # coordinator-only, unknown, or not asked with the answers as they stand
    return asked[qid]


def _question_page(intake: Intake, item: Item, *, state: dict, error: forms.FieldError | None, change: bool,
                   status: int = 200):
    asked = _asked(intake.answers)
    number = next(n for n, i in enumerate(asked) if i.id == item.id) + 1
    if change:
        back = url_for("patient.check")
    elif number > 1:
        back = url_for("patient.question", qid=asked[number - 2].id)
    else:
        back = url_for("patient.intro")
    section = next(s for s in _q().sections if s.id == item.section)
    texts = _texts()
    notice = session.pop("notice", None)
    if notice and notice.get("kind") == "hidden":  # by id: shown in the language of the page that shows it
        notice = {"kind": "hidden", "questions": [_q().item(qid).text for qid in notice["ids"]]}
    elif notice and notice.get("kind") == "year_alone" and notice.get("qid") in intake.answers:
        # The terminal's own sentence ("You gave only the year, so we will use December 2024 ...").
        shown = _q().answer_text(notice["qid"], intake.answers[notice["qid"]], audience="patient")
        notice = {"kind": "year_alone", "text": _q().patient_wording.year_alone.format(answer=shown)}
    elif notice and notice.get("kind") == "year_alone":
        notice = None
    # The settings as the patient's language reads them too ("more than 60 minutes" in an error).
    error_text = services().text(error.message_id, **{**services().patient().values, **texts}) if error else None
    # M counts the questions that may still be asked, as the terminal does: it never grows later.
    total = progress_total(_q(), intake.answers, MODE)
    return _page("question.html", item=item, number=number, total=total, back=back, section=section,
                 choices=forms.choices(item, **texts), multiple=forms.is_multiple(item), state=state,
                 error=error, error_text=error_text, change=change, revision=intake.revision,
                 notice=notice), status


@blueprint.get("/questions/<qid>")
def question(qid: str):
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    item = _item(qid, intake)
    carried = session.pop("carried", None)
    if carried and carried.get("qid") == item.id:  # entered before a language switch, not yet sent
        state = carried["state"]
    else:
        state = forms.shown(item, intake.answers.get(item.id), item.id in _unknown_marks())
    return _question_page(intake, item, state=state, error=None, change=request.args.get("change") == "1")


@blueprint.post("/questions/<qid>")
def answer(qid: str):
    svc = services()
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    item = _item(qid, intake)
    change = request.form.get("change") == "1"
    later = request.form.get("later") == "1"
    if later and forms.is_empty(item, request.form):
        return _to("patient.saved", **{"from": item.id})  # nothing chosen on this page: just leave
    parsed = forms.parse(item, request.form, today=svc.today())
    if isinstance(parsed, forms.Parsed):
        try:
            value = check_answer(intake.answers, item, parsed.value, today=svc.today())
        except InvalidInput:
            parsed = forms.FieldError("error_answer_invalid", item.id)
    if isinstance(parsed, forms.FieldError):
        return _question_page(intake, item, state=forms.submitted(item, request.form), error=parsed,
                              change=change, status=400)
    if _revision(request.form) != intake.revision:
        return _conflict()
    before = {i.id for i in _asked(intake.answers)}
    was_yes = intake.answers.get(item.id) == "yes"
    answers = dict(intake.answers)
    if value is None:
        answers.pop(item.id, None)
    else:
        answers[item.id] = value
    if answers != intake.answers:  # an unchanged answer (Continue again, "I don't know" again) writes nothing
        try:
            # Each Continue's save waits for the operating system, not the disk (it survives a server
            # crash or restart; a power cut may lose the last answers, as the README says); "Save and
            # come back later", which the patient leaves on, waits for the disk.
            svc.store().save_draft(answers, user=PATIENT_USER, intake_id=intake.id, expected_revision=intake.revision,
                                   durable=later, kiosk=bool(session.get("kiosk")))  # a yes on the tablet: in the clinic
        except Conflict:
            return _conflict()
    marks = _unknown_marks() - {item.id}
    if parsed.unknown and value is None:
        marks.add(item.id)
    session["unknown"] = sorted(marks)
    asked = _asked(answers)
    hidden_now = [i for i in hidden_answers(svc.questionnaire, answers) if i.id in before]
    revealed = [i for i in asked if i.id not in before]
    if hidden_now:
        session["notice"] = {"kind": "hidden", "ids": [i.id for i in hidden_now]}
    elif revealed:
        session["notice"] = {"kind": "revealed"}
    elif parsed.year_alone:
        session["notice"] = {"kind": "year_alone", "qid": item.id}
    position = next(n for n, i in enumerate(asked) if i.id == item.id)
    if change:
        # Every question the change opened (or any still unanswered) is asked, one after the other,
        # before the check page: none is sent as "not answered" without being shown.
        pending = _unanswered(asked, answers, marks)
        following = url_for("patient.question", qid=pending[0].id, change="1") if pending else url_for("patient.check")
    else:
        following = url_for("patient.question", qid=asked[position + 1].id) if position + 1 < len(asked) \
            else url_for("patient.check")
    if later:
        following = url_for("patient.saved", **{"from": item.id})
    if item.safety and value == "yes" and not was_yes:
        # Staff see it at once: saving the answer above raised its alert (the store does, whatever the
        # channel), before the patient even sends.
        return redirect(url_for("patient.warning", qid=item.id) + "?" + urlencode({"next": following}), code=303)
    return redirect(following, code=303)


def _unanswered(asked: list[Item], answers: dict[str, Any], marks: set[str]) -> list[Item]:
    """Questions asked with these answers that have neither an answer nor "I don't know"."""
    return [item for item in asked if item.id not in answers and item.id not in marks]


def _revision(form) -> int | None:
    try:
        return int(form.get("revision", ""))
    except ValueError:
        return None


def _conflict():
    return _page("conflict.html"), 409


# --- red flags --------------------------------------------------------------------------------------

def red_flag_notice(qid: str) -> tuple[str, str]:
    """(urgency tier, patient instruction) of a yes to this red-flag question: the tier the rules file
    gives the question, and that tier's instruction from its [messages] (the same functions that
    pick what the end page and the terminal show)."""
    svc = services()
    tier = most_urgent_tier([qid], svc.ruleset)
    language = svc.patient()
    return tier, red_flag_instructions(tier, language.texts, svc.settings, language.values)


def yes_flags(answers: dict[str, Any]) -> list[str]:
    """The red-flag questions answered yes, among the questions these answers ask."""
    return [item.id for item in _asked(answers) if item.safety and answers.get(item.id) == "yes"]


def _care(answers: dict[str, Any]) -> dict[str, str] | None:
    """The care card of the most urgent tier answered yes so far (None: no red flag answered yes)."""
    svc = services()
    tier = most_urgent_tier(yes_flags(answers), svc.ruleset)
    if tier is None:
        return None
    language = svc.patient()
    return {"urgency": tier, "instruction": red_flag_instructions(tier, language.texts, svc.settings, language.values)}


def _safe_next(target: str | None) -> str:
    """Only our own question or check pages (no open redirect)."""
    if target and target.startswith("/intake/") and "//" not in target and "\\" not in target:
        return target
    return url_for("patient.check")


@blueprint.get("/warning/<qid>")
def warning(qid: str):
    intake = _require()
    item = _item(qid, intake)
    if not item.safety or intake.answers.get(qid) != "yes":
        return _to("patient.question", qid=qid)
    # The most urgent tier answered so far leads: a later, calmer answer never replaces an emergency
    # card; it is added below it.
    care = _care(intake.answers)
    tier, instruction = red_flag_notice(qid)
    added = {"urgency": tier, "instruction": instruction} if tier != care["urgency"] else None
    following = _safe_next(request.args.get("next"))
    changing = "change=1" in following or following == url_for("patient.check")
    back = url_for("patient.question", qid=qid, **({"change": "1"} if changing else {}))
    return _page("warning.html", urgency=care["urgency"], instruction=care["instruction"], added=added,
                 following=following, back=back)


@blueprint.post("/warning/<qid>")
def warning_choice(qid: str):
    _require()
    if request.form.get("choice") == "stop":
        return _to("patient.stopped")
    return redirect(_safe_next(request.form.get("next")), code=303)


# --- check, send, the end ---------------------------------------------------------------------------

@blueprint.get("/check")
def check():
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    return _check_page(intake)


def _check_page(intake: Intake, status: int = 200, flags_first: bool = False):
    questionnaire = _q()
    marks = _unknown_marks()
    rows = []
    for item in _asked(intake.answers):
        value = intake.answers.get(item.id)
        if value is None and item.id in marks:
            shown_text = questionnaire.questionnaire.unknown_text
        else:
            shown_text = questionnaire.answer_text(item.id, value, audience=MODE)
        rows.append({"item": item, "text": shown_text,
                     "change": url_for("patient.question", qid=item.id, change="1")})
    hidden = bool(hidden_answers(questionnaire, intake.answers))
    asked = _asked(intake.answers)
    unanswered = _unanswered(asked, intake.answers, marks)
    for row in rows:
        row["unanswered"] = row["item"] in unanswered
    care = _care(intake.answers)
    return _page("check.html", rows=rows, hidden=hidden, revision=intake.revision, care=care,
                 urgency=care and care["urgency"], instruction=care and care["instruction"],
                 unanswered=[row for row in rows if row["unanswered"]], flags_first=flags_first,
                 back=url_for("patient.question", qid=asked[-1].id)), status


@blueprint.post("/check")
def send():
    svc = services()
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    if _revision(request.form) != intake.revision:
        return _conflict()
    flags = [item for item in _unanswered(_asked(intake.answers), intake.answers, _unknown_marks()) if item.safety]
    anyway = request.form.get("anyway") == "1"
    if flags and not anyway:
        # The warning-sign questions are the ones that cannot wait: ask for them first. Sending
        # anyway stays possible, and the version records that it was sent so.
        return _check_page(intake, flags_first=True)
    answers = parse_answers(without_hidden(svc.questionnaire, intake.answers), today=svc.today())
    result = assess(answers, svc.ruleset, svc.settings)
    try:
        svc.store().record_assessment(answers.answered(), result.to_json(), user=PATIENT_USER, intake_id=intake.id,
                                      base_version=intake.base_version,
                                      source=SENT_WITHOUT_WARNING_SIGNS if flags else "web",
                                      draft_revision=intake.revision, language=svc.language())
    except Conflict:
        return _conflict()
    return _to("patient.done")


def _summary(stopped: bool, intake: Intake):
    svc = services()
    if stopped:
        answers = parse_answers(without_hidden(svc.questionnaire, intake.answers), today=svc.today())
        result = assess(answers, svc.ruleset, svc.settings)
    else:
        result = Result.model_validate(svc.store().get(intake.id).result)
    language = svc.patient()
    summary = patient_summary(result, language.texts, svc.settings, stopped_early=stopped, values=language.values)
    return summary.tier, summary


@blueprint.get("/done")
def done():
    intake = _require()
    if not intake.submitted:
        return _to("patient.check")
    if session.get("records_only"):
        return _to("patient.records")
    urgency, summary = _summary(False, intake)
    kiosk = session.get("kiosk", False)
    page = _page("done.html", summary=summary, urgency=urgency, stopped=False, kiosk=kiosk,
                 checklist=_checklist_items(intake))
    if kiosk:
        session.end()  # a shared tablet: the next person cannot come back to this intake's pages
    return page


@blueprint.get("/stopped")
def stopped():
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    urgency, summary = _summary(True, intake)
    return _page("done.html", summary=summary, urgency=urgency, stopped=True, kiosk=session.get("kiosk", False))


# --- leaving and coming back ------------------------------------------------------------------------

@blueprint.get("/saved")
def saved():
    intake = _require()
    if intake.submitted:
        return _to("patient.done")
    asked = {item.id for item in _asked(intake.answers)}
    came_from = request.args.get("from", "")
    back = url_for("patient.question", qid=came_from) if came_from in asked else url_for("patient.intro")
    return _page("saved.html", code=session.get("code", ""), back=back, expires=_code_expiry(),
                 offer_records=not session.get("kiosk"))


def _code_expiry() -> str | None:
    """When this browser's code stops working, in the patient's words ("3 December 2026")."""
    code = session.get("code")
    if not code:
        return None
    invite = services().store().find_invite(invites.code_hash(code))
    return _spoken_moment(invite.expires_at) if invite is not None else None


@blueprint.post("/leave")
def leave():
    language = services().language()
    left = request.form.get("reason") == "left"  # the patient's own "Leave", not the idle warning's timer
    session.end()
    if language != DEFAULT_LANGUAGE:  # "we closed it" in the language the patient was reading (a new session)
        _choose(language)
    return _to("patient.ended", **({"left": "1"} if left else {}))


@blueprint.get("/ended")
def ended():
    return _page("ended.html", left=request.args.get("left") == "1")


@blueprint.post("/still-here")
def still_here():
    """The page script's answer to "Stay on this page": the session was touched by this request."""
    _require()
    return "", 204


@blueprint.get("/idle.css")
def idle_css():
    """Covers a page with an open intake with the "we closed the questionnaire" notice when the
    session's idle time is up, without JavaScript (see ``idle_stylesheet``). With JavaScript the page
    script warns first and ends the session itself, so it switches this off."""
    return idle_stylesheet(services().settings.patient_idle_minutes * 60)


# --- records the patient has: photos or PDFs of the operative report and the MRI report -------------
# Offered after sending (the done page), when coming back with the code after sending, and on the
# saved page. Files are checked by their content (triage.records.uploads) and kept in the store; the patient
# sees only what they sent (names and pages), never the files themselves; staff download them.

def _upload_limits():
    from triage.records.uploads import UploadLimits

    return UploadLimits.from_settings(services().settings)


def _record_items() -> list[dict[str, Any]]:
    """Each record item with the files this intake holds of it (removed ones left out)."""
    from triage.records.uploads import RECORD_ITEMS

    intake = _require()
    store = services().store()
    kept = [f for f in store.record_files(intake.id) if f.removed_at is None]
    received = _received_items(intake.id)
    return [{"id": item, "files": [f for f in kept if f.item == item], "received": item in received}
            for item in RECORD_ITEMS]


def _received_items(intake_id: int) -> set[str]:
    """Record items staff marked received (a file of one can no longer be removed)."""
    from triage.records.requests import RECEIVED

    return {r.item for r in services().store().record_requests(intake_id) if r.state == RECEIVED}


def _records_page(*, errors: list[dict[str, str]] | None = None, notice: str | None = None, status: int = 200):
    intake = _require()
    limits = _upload_limits()
    if intake.submitted and session.get("records_only"):
        back = None  # came back with the code only to add records: the page offers leaving
    elif intake.submitted:
        back = url_for("patient.done")
    else:
        back = url_for("patient.intro")
    return _page("records.html", items=_record_items(), errors=errors or [], error=bool(errors), notice=notice,
                 back=back, megabytes=limits.max_bytes // (1024 * 1024), max_files=limits.max_files,
                 submitted=intake.submitted), status


@blueprint.get("/records")
def records():
    _require()
    if session.get("kiosk"):
        abort(404)  # a shared tablet: records are added from the patient's own phone, with their code
    notice = session.pop("records_notice", None)
    return _records_page(notice=_notice_text(notice))


def _notice_text(notice: dict | None) -> str | None:
    if not notice:
        return None
    svc = services()
    if notice["kind"] == "added":
        count = notice["count"]
        return svc.text("records_added" + ("_one" if count == 1 else ""), count=count)
    return svc.text("records_removed", name=notice["name"])


def _refusal(reason: str, name: str) -> str:
    limits = _upload_limits()
    return services().text(f"records_error_{reason}", name=name, megabytes=limits.max_bytes // (1024 * 1024),
                           pages=limits.max_pdf_pages, files=limits.max_files)


@blueprint.post("/records/<item>")
def upload(item: str):
    """Add one or more files to a record item: each checked by its content and kept in its own
    transaction (what was taken stays, whatever is refused). Refused files are named with a plain
    sentence each; nothing of them is stored."""
    from triage.core.errors import UploadRefused
    from triage.records.uploads import PATIENT_CHANNEL, RECORD_ITEMS, check_count, check_upload, shown_name

    svc = services()
    intake = _require()
    if item not in RECORD_ITEMS or session.get("kiosk"):
        abort(404)
    sent = [f for f in request.files.getlist("file") if f and (f.filename or f.content_length)]
    if not sent:
        return _records_page(errors=[{"field": f"file-{item}", "text": svc.text("records_error_no_file")}], status=400)
    store = svc.store()
    limits = _upload_limits()
    errors, added = [], 0
    for storage in sent:
        shown = shown_name(storage.filename or "")
        if not _upload_allowed(intake.id):
            errors.append({"field": f"file-{item}", "text": svc.text("records_error_too_many_tries",
                                                                     minutes=svc.upload_limiter.minutes)})
            break
        try:
            check_count(sum(1 for f in store.record_files(intake.id) if f.item == item and f.removed_at is None), limits)
            # Read at most one byte more than the limit: a bigger file is refused without reading it all.
            data = storage.stream.read(limits.max_bytes + 1)
            checked = check_upload(data, storage.filename or "", limits)
        except UploadRefused as refused:
            errors.append({"field": f"file-{item}", "text": _refusal(refused.reason, shown)})
            if refused.reason == "too_many_files":
                break
            continue
        store.add_record_file(intake.id, item, filename=checked.filename, media_type=checked.media_type,
                              data=checked.data, pages=checked.pages, by=PATIENT_USER,
                              channel=PATIENT_CHANNEL)
        added += 1
    if errors:
        notice = _notice_text({"kind": "added", "count": added}) if added else None
        return _records_page(errors=errors, notice=notice, status=400)
    session["records_notice"] = {"kind": "added", "count": added}
    return redirect(url_for("patient.records") + f"#item-{item}", code=303)


UPLOADS_PER_INTAKE = 30  # files tried per intake per window (a report has a few pages; a flood is not one)
UPLOADS_PER_ADDRESS = 60  # files tried per address per window (a family's phones behind one router)


def _upload_allowed(intake_id: int) -> bool:
    """Count one file tried, for the intake and for the address (in the store, shared by every
    process); False past either limit. The first refusal of a window is an audit row."""
    from triage.records.store import GUEST_USER

    limiter, address = services().upload_limiter, request.remote_addr or "-"
    if not limiter.take(f"intake:{intake_id}", UPLOADS_PER_INTAKE):
        what = "intake"
    elif not limiter.take(f"address:{address}", UPLOADS_PER_ADDRESS):
        limiter.give_back(f"intake:{intake_id}")
        what = "address"
    else:
        return True
    if limiter.first_in_window(f"{what}:{intake_id}:{address}"):
        services().store().audit_event(UPLOAD_THROTTLED, user=GUEST_USER,
                                       detail={"address": address, "intake": intake_id, "limit": what})
    return False


UPLOAD_THROTTLED = "upload_throttled"


@blueprint.post("/records/remove")
def remove_upload():
    """Remove a file this intake's patient sent (before staff marked its record received). The file
    is named by a form field and looked up among this session's intake's files only."""
    from triage.records.store import RecordReceived

    svc = services()
    intake = _require()
    store = svc.store()
    try:
        file_id = int(request.form.get("file", ""))
    except ValueError:
        abort(400)
    found = next((f for f in store.record_files(intake.id) if f.id == file_id and f.removed_at is None), None)
    if found is None:
        abort(404)  # another intake's file, or removed already
    try:
        store.remove_record_file(file_id, by=PATIENT_USER)
    except RecordReceived:
        return _records_page(errors=[{"field": f"item-{found.item}", "text": svc.text("records_error_received",
                                                                                      name=found.filename)}],
                             status=409)
    session["records_notice"] = {"kind": "removed", "name": found.filename}
    return redirect(url_for("patient.records") + f"#item-{found.item}", code=303)


def too_large_upload():
    """An upload bigger than the settings allow in one request (413): the page again, saying so."""
    svc = services()
    if _current() is None:
        return _page("error.html", title_id="bad_request_title", text_id="bad_request_text"), 413
    item = (request.view_args or {}).get("item", "")
    limits = _upload_limits()
    text = svc.text("records_error_request_too_large", megabytes=limits.max_bytes // (1024 * 1024))
    return _records_page(errors=[{"field": f"file-{item}", "text": text}], status=413)


def _checklist_items(intake: Intake) -> list[str]:
    """The record items still missing, by the latest result (sent), or by the answers so far."""
    from triage.records.uploads import RECORD_ITEMS

    svc = services()
    if intake.submitted:
        result = Result.model_validate(svc.store().get(intake.id).result)
    else:
        answers = parse_answers(without_hidden(svc.questionnaire, intake.answers), today=svc.today())
        result = assess(answers, svc.ruleset, svc.settings)
    missing = {item.id for item in result.missing_items}
    return [item for item in RECORD_ITEMS if item in missing]


@blueprint.get("/checklist")
def checklist():
    """The records to get, on a page of its own to print (one A4 or Letter sheet)."""
    intake = _require()
    if intake.submitted and session.get("records_only"):
        back = url_for("patient.records")
    else:
        back = url_for("patient.done") if intake.submitted else url_for("patient.saved")
    return _page("checklist.html", checklist=_checklist_items(intake), code=session.get("code", ""), back=back)
