"""One date vocabulary in every channel (issue 26 item 3): every example that a help text shows a
patient is accepted in every channel where that help text is shown, and means the same date there.

Help texts and where they are shown, in both languages:
- the date questions' own help (``items.fusion_date.help``, ``items.mri_date.help``): terminal (under
  the question), web (the question page's help), FHIR (the item's help in a form renderer);
- the terminal's typing hint (``patient_wording.type_date``) and its date error: terminal;
- the web's date hint (``date_hint``: "month 6, year 2024", a year alone with the month left empty): web.

A year alone is accepted where the help says so, read as the safer month of that year in every
channel (the fusion as late as possible, an MRI as early as possible).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from triage.interop import fhir
from triage.core.interview import MONTH_NAMES, Answer, InputError, check_answer, interpret, patient_hints
from triage.core.languages import load_language
from triage.core.questionnaire import load_definition
from triage.core.ruleset import load_ruleset
from triage.core.settings import load_settings
from triage.channels.web import forms
from triage.channels.web.messages import load_messages

TODAY = date(2026, 12, 6)
LANGUAGES = ("en", "es")
DATE_QUESTIONS = ("fusion_date", "mri_date")
_NAMES = "|".join(sorted(MONTH_NAMES, key=len, reverse=True))
EXAMPLE = re.compile(rf"\b(\d{{1,2}}/\d{{1,2}}/\d{{4}}|\d{{1,2}}/\d{{4}}|(?:{_NAMES})\.? (?:de )?\d{{4}})\b", re.IGNORECASE)
YEAR_ALONE = re.compile(r"only know the year|solo sabe el año", re.IGNORECASE)
WEB_BOXES = re.compile(r"(?:month|mes) (\d{1,2}), (?:year|año) (\d{4})", re.IGNORECASE)


def _language(lang: str):
    return load_language(lang, questionnaire=load_definition(), ruleset=load_ruleset(), settings=load_settings())


def examples(text: str) -> list[str]:
    """The dates a help text shows, as typed; a year alone when it tells the patient to type the year."""
    found = EXAMPLE.findall(text)
    if YEAR_ALONE.search(text):
        found.append(re.search(r"\d{4}", found[0] if found else text).group(0))
    return found


def help_examples() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(language, question, example, channels where the text holding it is shown)."""
    cases = []
    for lang in LANGUAGES:
        q = _language(lang).questionnaire
        for qid in DATE_QUESTIONS:
            item = q.item(qid)
            for example in examples(item.help):
                cases.append((lang, qid, example, ("terminal", "web", "fhir")))
            hints = " ".join(patient_hints(item, q, "MDY")) + " " + q.patient_wording.errors["date"]
            for example in examples(hints):
                cases.append((lang, qid, example, ("terminal",)))
    return sorted(set(cases))


CASES = help_examples()


def test_the_help_texts_show_examples_of_each_form():
    shown = {example for _, _, example, _ in CASES}
    assert {"06/2024", "June 2024", "junio de 2024", "09/2025", "September 2025", "septiembre de 2025",
            "2024", "2025", "06/10/2024"} <= shown, shown


def terminal(lang: str, qid: str, typed: str) -> str:
    """As `triage intake --mode patient` reads the line (the same reader, the same check)."""
    q = _language(lang).questionnaire
    item = q.item(qid)
    action = interpret(item, typed, mode="patient", date_order="MDY", unknown_text=q.questionnaire.unknown_text,
                       not_after=TODAY)
    assert isinstance(action, Answer)
    answers = {"fusion_date": "2023-01", "mri_available": "yes"} if qid == "mri_date" else {}
    return check_answer({**answers, "assessment_date": TODAY.isoformat()}, item, action.value, today=TODAY)


def web(lang: str, qid: str, typed: str) -> str:
    """As the question page reads it: the example typed into the month and year boxes (and the day box
    for a full date), the year alone with the month left empty."""
    item = load_definition().item(qid)
    if re.fullmatch(r"\d{4}", typed):
        form = {"year": typed}
    elif match := re.fullmatch(r"(\d{1,2})/(\d{4})", typed):
        form = {"month": match.group(1), "year": match.group(2)}
    elif match := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", typed):
        form = {"month": match.group(1), "day": match.group(2), "year": match.group(3)}
    else:
        name, year = re.fullmatch(r"(\w+)\.? (?:de )?(\d{4})", typed).groups()
        form = {"month": name, "year": year}
    parsed = forms.parse(item, MultiDict(form), today=TODAY)
    assert isinstance(parsed, forms.Parsed), (typed, parsed)
    return parsed.value


def form_renderer(lang: str, qid: str, typed: str) -> str:
    """As a FHIR form renderer holds it (the item's regex) and `triage assess` imports it."""
    definition = load_definition()
    resource = fhir.questionnaire_resource(definition, audience="patient")
    value_item = _find(resource["item"], qid + fhir.VALUE_SUFFIX)
    pattern = next(ext["valueString"] for ext in value_item["extension"] if ext["url"] == fhir.REGEX)
    assert re.fullmatch(pattern, typed), (pattern, typed)
    assert len(typed) <= value_item["maxLength"]
    items = [{"linkId": qid, "answer": [{"valueCoding": {"system": definition.questionnaire.fhir_answer_system,
                                                          "code": fhir.KNOWN}}]},
             {"linkId": qid + fhir.VALUE_SUFFIX, "answer": [{"valueString": typed}]}]
    if qid == "mri_date":
        items.insert(0, {"linkId": "mri_available", "answer": [{"valueCoding": {
            "system": definition.questionnaire.fhir_answer_system, "code": "yes"}}]})
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": f"{TODAY}T10:00:00Z",
                "questionnaire": f"{definition.questionnaire.fhir_patient_url}|{definition.questionnaire.version}",
                "item": items}
    return fhir.answers_from_response(response, definition)[qid]


def _find(items: list, link_id: str) -> dict:
    for item in items:
        if item["linkId"] == link_id:
            return item
        found = _find(item.get("item", []), link_id) if item.get("item") else None
        if found:
            return found
    return {}


CHANNELS = {"terminal": terminal, "web": web, "fhir": form_renderer}


@pytest.mark.parametrize("lang, qid, example, shown_in", CASES, ids=lambda v: str(v))
def test_every_help_example_is_accepted_in_every_channel_that_shows_it(lang, qid, example, shown_in):
    read = {channel: CHANNELS[channel](lang, qid, example) for channel in shown_in}
    expected = terminal(lang, qid, example)  # the terminal reads everything a help text names
    assert set(read.values()) == {expected}, read
    if re.fullmatch(r"\d{4}", example):  # a year alone: the safer month
        assert expected == (f"{example}-12" if qid == "fusion_date" else f"{example}-01")
    else:
        assert not expected.endswith("-01") or "/01/" in example or example.lower().startswith(("jan", "ene"))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_web_hint_example_is_accepted_on_the_web(lang):
    hint = load_messages(language=None if lang == "en" else lang).messages["date_hint"]
    month, year = WEB_BOXES.search(hint).groups()
    assert forms.parse(load_definition().item("fusion_date"), MultiDict({"month": month, "year": year}),
                       today=TODAY).value == f"{year}-{int(month):02d}"
    assert YEAR_ALONE.search(hint) or re.search(r"only know the year|solo sabe el año", hint) or \
        "month empty" in hint or "mes vacío" in hint  # the hint says a year alone is fine
    assert forms.parse(load_definition().item("fusion_date"), MultiDict({"year": year}), today=TODAY).value == f"{year}-12"


def test_a_year_alone_in_the_assessment_year_is_never_read_past_it():
    item = load_definition().item("fusion_date")
    assert forms.parse(item, MultiDict({"year": "2026"}), today=TODAY).value == "2026-12"  # December 2026: today
    assert terminal("en", "fusion_date", "2026") == "2026-12"
    assert forms.parse(item, MultiDict({"year": "2027"}), today=TODAY) == forms.FieldError("error_date_future",
                                                                                           "fusion_date-year")
