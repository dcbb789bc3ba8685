"""FHIR R4 (SDC): our questionnaire as a Questionnaire, answers as a QuestionnaireResponse, and back.

Plain JSON dicts built from the questionnaire definition; no FHIR library at run time (the tests
validate the output with ``fhir.resources`` and, in a browser test, with a second validator and a
real form renderer, LHC-Forms). Two Questionnaires come from one definition: the full one (what
exports reference) and the patient form (``fhir_patient_url``), without the coordinator-only
questions. Both share linkIds, so a response to either is read the same way.

Shape, chosen so that what a patient enters in a form renderer comes back unchanged:

- one ``group`` per section (text: the section's patient title), after an ``intro`` display item;
- question text, option texts and help are the patient wording; help is a ``display`` child
  (``{id}.help``) with item control ``help``;
- every question's linkId is its answers-contract id; ``item.code`` is the id in
  ``fhir_question_system``;
- ``yes_no_unknown`` / ``choice``: ``choice`` with radio buttons, ``valueCoding``;
  ``multi_choice``: ``choice``, ``repeats``, check boxes; ``integer``: ``integer`` with minValue /
  maxValue; ``text``: ``string``; ``date`` (assessment date): ``date``;
- ``partial_date`` is asked in two parts, because form renderers accept only full dates in a
  ``date`` item (a month typed alone is cleared, an imported ``2024-03`` comes back as
  ``2024-03-01``, which can move a patient out of the healing window):
  ``{id}``: ``choice`` "I know the month or the date" (``known``) / "I don't know" (``unknown``);
  ``{id}.value``: ``string`` enabled when ``known``, with a ``YYYY-MM[-DD]`` regex and entry format.
  A month stays a month: ``valueString`` ``2024-03``.
- ``segments`` likewise: ``{id}``: ``choice`` ``known`` / ``none`` (when the question allows it) /
  ``unknown``; ``{id}.value``: ``choice``, ``repeats``, check boxes of the segments only, enabled
  when ``known``. A level cannot be combined with "None" or "I don't know" even in a renderer
  without exclusive options; ``none`` and ``unknown`` also carry the SDC ``optionExclusive`` flag.

Answer codes (``fhir_answer_system``): ``yes``, ``no``, ``unknown``; the choice values of the
definition; the segments (``L4-L5``); ``none`` (levels: none); ``known`` (the date or the levels
follow in ``{id}.value``). Question codes (``fhir_question_system``): the question ids.

Responses of earlier versions of the questionnaire (1.0.0: flat items, a ``valueDate`` or a
data-absent-reason ``unknown`` on ``_valueDate``, segments with ``none`` / ``unknown`` in one item)
are still read; a response to a newer version is refused with a message saying so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from triage.core.answers import KINDS
from triage.core.errors import InvalidInput, Problem
from triage.core.segments import SEGMENTS

if TYPE_CHECKING:  # annotations only: `triage assess` checks every file for FHIR, and the
    # questionnaire models cost start-up time that JSON output never needs.
    from triage.core.questionnaire import Item, Questionnaire

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"
ENTRY_FORMAT = "http://hl7.org/fhir/StructureDefinition/entryFormat"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
# The standard extension for the same text in another language, on a string's `_element`.
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
TRANSLATED_ELEMENTS = ("title", "text", "display")
SDC_QUESTIONNAIRE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"
SDC_RESPONSE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaireresponse"
XHTML = "http://www.w3.org/1999/xhtml"

UNKNOWN = "unknown"
NONE = "none"  # segments answered with an empty list: e.g. "the MRI report notes no tear"
KNOWN = "known"  # the date or the levels follow in the `{id}.value` item
VALUE_SUFFIX = ".value"
HELP_SUFFIX = ".help"
SECTION_PREFIX = "section."
INTRO = "intro"
# What the date questions' help tells a patient to type, in both languages, and nothing else: a month
# and year (06/2024, June 2024, junio de 2024), a year alone (2024, read as the safer month of it, as
# the terminal and the web read it), or the full date YYYY-MM-DD; also YYYY-MM, the contract's own
# form. Month names are checked on import (`triage assess` names the question when one is not a
# month); impossible days such as 2024-02-30 are refused there too.
PARTIAL_DATE_PATTERN = (r"^([0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?"
                        r"|(0?[1-9]|1[0-2])/[0-9]{4}"
                        r"|[A-Za-zÁÉÍÓÚáéíóúñ]{3,10}\.? (de |del )?[0-9]{4})$")
DATE_ENTRY_FORMAT = "MM/YYYY"
DATE_ENTRY_MAX_LENGTH = 20  # "septiembre de 2025"
TWO_PARTS = ("partial_date", "segments")

ITEM_TYPES = {
    "text": "string", "date": "date", "integer": "integer", "yes_no_unknown": "choice", "choice": "choice",
    "multi_choice": "choice", "partial_date": "choice", "segments": "choice",
}
# Statuses of a response that can be assessed: an unfinished one simply leaves questions unanswered.
USABLE_STATUSES = ("completed", "amended", "in-progress", "stopped")
AUDIENCES = ("coordinator", "patient")


def _codes(questionnaire: Questionnaire, item: Item) -> list[tuple[str, str]]:
    """(code, display) of every answer option of the question item ``{id}``, in order."""
    wording = questionnaire.patient_wording
    unknown = (UNKNOWN, questionnaire.questionnaire.unknown_text)
    kind = KINDS[item.id]
    if kind == "yes_no_unknown":
        return [("yes", wording.yes), ("no", wording.no), unknown]
    if kind in ("choice", "multi_choice"):
        return [(option.value, option.text) for option in item.options]
    if kind == "partial_date":
        return [(KNOWN, wording.date_known), unknown]
    if kind == "segments":
        return [(KNOWN, wording.levels_known)] + ([(NONE, wording.none)] if item.allow_none else []) + [unknown]
    return []


def _displays(questionnaire: Questionnaire, item: Item) -> dict[str, str]:
    """Display of every code an answer to this question may carry (earlier versions' included)."""
    displays = dict(_codes(questionnaire, item))
    if KINDS[item.id] == "segments":
        displays.update({segment: segment for segment in SEGMENTS})
        displays.setdefault(NONE, questionnaire.patient_wording.none)
    return displays


def _coding(questionnaire: Questionnaire, item: Item, code: str) -> dict[str, str]:
    display = _displays(questionnaire, item).get(code, code)
    return {"system": questionnaire.questionnaire.fhir_answer_system, "code": code, "display": display}


def _item_control(code: str) -> dict[str, Any]:
    return {"url": ITEM_CONTROL, "valueCodeableConcept": {"coding": [{"system": ITEM_CONTROL_SYSTEM, "code": code}]}}


def canonical(questionnaire: Questionnaire, audience: str = "coordinator") -> str:
    info = questionnaire.questionnaire
    return f"{_url(questionnaire, audience)}|{info.version}"


def _url(questionnaire: Questionnaire, audience: str) -> str:
    info = questionnaire.questionnaire
    return info.fhir_patient_url if audience == "patient" else info.fhir_url


def _sections(questionnaire: Questionnaire, items: list[Item]) -> list[tuple[Any, list[Item]]]:
    """Sections in definition order, each with its items (in definition order); empty ones left out."""
    grouped = [(section, [item for item in items if item.section == section.id]) for section in questionnaire.sections]
    return [(section, members) for section, members in grouped if members]


def questionnaire_resource(questionnaire: Questionnaire, audience: str = "coordinator",
                           translations: tuple[Questionnaire, ...] = ()) -> dict[str, Any]:
    """The R4 Questionnaire (SDC) for ``coordinator`` (every question; what exports reference) or
    ``patient`` (without the coordinator-only questions). Nothing is required: every answer is
    optional in the answers contract; a missing one is reported, never refused.

    ``translations``: the same questionnaire in other languages (triage/core/languages.py); each patient
    text then carries its translation in the standard ``translation`` extension (title, item text,
    option display), so one resource serves a form renderer in either language."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}")
    info = questionnaire.questionnaire
    items = [item for item in questionnaire.items if audience in item.audience or audience == "coordinator"]
    groups = [{"linkId": INTRO, "text": info.patient_intro, "type": "display"}]
    for section, members in _sections(questionnaire, items):
        group = {"linkId": SECTION_PREFIX + section.id, "text": section.patient_title, "type": "group",
                 "required": False, "item": []}
        for item in members:
            group["item"].extend(_question_items(questionnaire, item))
        groups.append(group)
    patient = audience == "patient"
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": info.id + ("-patient" if patient else ""),
        "meta": {"profile": [SDC_QUESTIONNAIRE]},
        "language": questionnaire.language,
        "text": {"status": "generated", "div": _narrative(questionnaire, items, patient)},
        "url": _url(questionnaire, audience),
        "version": info.version,
        "name": "".join(part.capitalize() for part in info.id.replace("_", "-").split("-")) + ("Patient" if patient else ""),
        "title": info.title,
        "status": "active",
        "subjectType": ["Patient"],
        "date": info.date,
        "publisher": info.publisher,
        "description": info.description,
        "item": groups,
    }
    if patient:
        resource["derivedFrom"] = [canonical(questionnaire)]
    for translated in translations:
        _add_translation(resource, questionnaire_resource(translated, audience), translated.language)
    return resource


def _add_translation(resource: Any, translated: Any, language: str) -> None:
    """Walk two resources built from the same definition in two languages (same shape) and put each
    differing title, text and display of ``translated`` on ``resource`` as a translation extension.
    Texts that read the same in both (segment names such as L4-L5, coordinator labels) get none."""
    if isinstance(resource, list) and isinstance(translated, list) and len(resource) == len(translated):
        for mine, theirs in zip(resource, translated):
            _add_translation(mine, theirs, language)
    elif isinstance(resource, dict) and isinstance(translated, dict):
        for key, value in list(resource.items()):
            if key in TRANSLATED_ELEMENTS and isinstance(value, str):
                other = translated.get(key)
                if isinstance(other, str) and other != value:
                    resource.setdefault("_" + key, {}).setdefault("extension", []).append(
                        {"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": language},
                                                           {"url": "content", "valueString": other}]})
            elif isinstance(value, (dict, list)) and not key.startswith("_") and key != "text":
                _add_translation(value, translated.get(key), language)


def translation_of(element: dict[str, Any], key: str, language: str) -> str | None:
    """The ``language`` translation of ``element[key]`` (the translation extension), or None."""
    for extension in element.get("_" + key, {}).get("extension", []):
        if extension.get("url") == TRANSLATION:
            parts = {part.get("url"): part for part in extension.get("extension", [])}
            if parts.get("lang", {}).get("valueCode") == language:
                return parts.get("content", {}).get("valueString")
    return None


def _question_items(questionnaire: Questionnaire, item: Item) -> list[dict[str, Any]]:
    """The Questionnaire items of one question: the question itself, and for dates and levels the
    ``{id}.value`` part that follows it."""
    info = questionnaire.questionnaire
    kind = KINDS[item.id]
    entry: dict[str, Any] = {
        "linkId": item.id,
        "code": [{"system": info.fhir_question_system, "code": item.id, "display": item.label}],
        "text": item.text,
        "type": ITEM_TYPES[kind],
        "required": False,
    }
    if kind == "multi_choice":
        entry["repeats"] = True
    codes = _codes(questionnaire, item)
    if codes:
        entry["extension"] = [_item_control("check-box" if kind == "multi_choice" else "radio-button")]
        entry["answerOption"] = []
        for code, _ in codes:
            option: dict[str, Any] = {"valueCoding": _coding(questionnaire, item, code)}
            if kind == "segments" and code in (NONE, UNKNOWN):
                option["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
            entry["answerOption"].append(option)
    if kind == "integer":
        entry["extension"] = [{"url": MIN_VALUE, "valueInteger": item.min},
                              {"url": MAX_VALUE, "valueInteger": item.max}]
    if item.ask_when:
        entry["enableWhen"] = [_condition(questionnaire, item.ask_when.question, item.ask_when.eq)]
    entry["item"] = [{"linkId": item.id + HELP_SUFFIX, "text": item.help, "type": "display",
                      "extension": [_item_control("help")]}]
    items = [entry]
    if kind in TWO_PARTS:
        wording = questionnaire.patient_wording
        value: dict[str, Any] = {"linkId": item.id + VALUE_SUFFIX, "required": False,
                                 "enableWhen": [_condition(questionnaire, item.id, KNOWN)]}
        if kind == "partial_date":
            value.update({"text": wording.date_entry, "type": "string", "maxLength": DATE_ENTRY_MAX_LENGTH,
                          "extension": [{"url": REGEX, "valueString": PARTIAL_DATE_PATTERN},
                                        {"url": ENTRY_FORMAT, "valueString": DATE_ENTRY_FORMAT}]})
        else:
            value.update({"text": wording.levels_entry, "type": "choice", "repeats": True,
                          "extension": [_item_control("check-box")],
                          "answerOption": [{"valueCoding": _coding(questionnaire, item, segment)}
                                           for segment in SEGMENTS]})
        items.append(value)
    return items


def _condition(questionnaire: Questionnaire, question: str, eq: str) -> dict[str, Any]:
    target = questionnaire.item(question)
    if KINDS[target.id] in TWO_PARTS and eq != KNOWN and eq not in (UNKNOWN, NONE):
        raise ValueError(f"skip logic on the value of {target.id} cannot be expressed")  # none today
    condition: dict[str, Any] = {"question": target.id, "operator": "="}
    if _codes(questionnaire, target):
        condition["answerCoding"] = _coding(questionnaire, target, eq)
    else:
        condition["answerString"] = eq
    return condition


def _narrative(questionnaire: Questionnaire, items: list[Item], patient: bool) -> str:
    """Human-readable summary (the resource's ``text``): title, description, the questions by section."""
    import html  # here: `triage assess` imports this module to recognise FHIR input, never to write it

    info = questionnaire.questionnaire
    parts = [f'<div xmlns="{XHTML}"><h1>{html.escape(info.title)}</h1><p>{html.escape(info.description)}</p>']
    if patient:
        parts.append("<p>Patient form: the coordinator-only questions are left out.</p>")
    for section, members in _sections(questionnaire, items):
        parts.append(f"<h2>{html.escape(section.patient_title)}</h2><ol>")
        parts += [f"<li>{html.escape(item.text)}</li>" for item in members]
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def subject_reference(patient_id: str) -> dict[str, Any]:
    """The patient as the response's ``subject``: the clinic's own reference, as an identifier."""
    return {"identifier": {"value": patient_id}}


def response_resource(questionnaire: Questionnaire, answers: dict[str, Any], *, authored: str | None = None,
                      resource_id: str | None = None, status: str = "completed",
                      subject: str | None = None, language: str | None = None,
                      deidentified: bool = False) -> dict[str, Any]:
    """An R4 QuestionnaireResponse to the full Questionnaire for an answers-contract object
    (answered questions only). ``subject`` (the patient reference) only on identified exports.
    ``language``: the language the patient answered in (item texts stay the staff's English).
    ``deidentified``: the dates are years (the date entry's pattern allows a year; the assessment date
    is a FHIR date, which may be a year), and ``meta.security`` says so, so that `triage assess`
    reads them as years, never as a patient's "year alone" (triage.interop.deidentified)."""
    groups = []
    for section, members in _sections(questionnaire, list(questionnaire.items)):
        items = []
        for item in members:
            if item.id in answers:
                items += _answer_items(questionnaire, item, answers[item.id])
        if items:
            groups.append({"linkId": SECTION_PREFIX + section.id, "text": section.patient_title, "item": items})
    resource: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if resource_id:
        resource["id"] = resource_id
    resource["meta"] = {"profile": [SDC_RESPONSE]}
    if deidentified:
        resource["meta"]["security"] = [DEIDENTIFIED]
    if language:
        resource["language"] = language
    resource["questionnaire"] = canonical(questionnaire)
    resource["status"] = status
    if subject:
        resource["subject"] = subject_reference(subject)
    if authored:
        resource["authored"] = authored
    resource["item"] = groups
    return resource


def _answer_items(questionnaire: Questionnaire, item: Item, value: Any) -> list[dict[str, Any]]:
    """The response items of one answered question (none when the answer says nothing)."""
    kind = KINDS[item.id]

    def one(link: str, text: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
        return {"linkId": link, "text": text, "answer": answers}

    def coded(code: str) -> dict[str, Any]:
        return {"valueCoding": _coding(questionnaire, item, code)}

    wording = questionnaire.patient_wording
    if kind == "text":
        return [one(item.id, item.text, [{"valueString": str(value)}])]
    if kind == "integer":
        return [one(item.id, item.text, [{"valueInteger": int(value)}])]
    if kind == "date":
        return [one(item.id, item.text, [{"valueDate": str(value)}])]
    if kind == "partial_date":
        if value == UNKNOWN:
            return [one(item.id, item.text, [coded(UNKNOWN)])]
        return [one(item.id, item.text, [coded(KNOWN)]),
                one(item.id + VALUE_SUFFIX, wording.date_entry, [{"valueString": str(value)}])]
    if kind == "segments":
        if value == UNKNOWN or value == []:
            return [one(item.id, item.text, [coded(UNKNOWN if value == UNKNOWN else NONE)])]
        return [one(item.id, item.text, [coded(KNOWN)]),
                one(item.id + VALUE_SUFFIX, wording.levels_entry, [coded(code) for code in value])]
    if kind == "multi_choice":  # [] says no more than "not answered": no item
        return [one(item.id, item.text, [coded(code) for code in value])] if value else []
    return [one(item.id, item.text, [coded(str(value))])]


# The security label of a de-identified response (HL7 v3 ObservationValue "anonymized"): identifiers
# removed, dates to the year.
DEIDENTIFIED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "ANONYED",
                "display": "anonymized"}


def is_deidentified(raw: Any) -> bool:
    security = raw.get("meta", {}).get("security", []) if isinstance(raw, dict) and isinstance(raw.get("meta"), dict) else []
    return isinstance(security, list) and any(isinstance(label, dict) and label.get("system") == DEIDENTIFIED["system"]
                                              and label.get("code") == DEIDENTIFIED["code"] for label in security)


def is_response(raw: Any) -> bool:
    """Does this JSON look like a FHIR resource rather than an answers object?"""
    return isinstance(raw, dict) and "resourceType" in raw


def _version(text: str) -> tuple[int, ...] | None:
    return tuple(int(part) for part in text.split(".")) if re.fullmatch(r"\d+(\.\d+)*", text) else None


def answers_from_response(raw: dict[str, Any], questionnaire: Questionnaire) -> dict[str, Any]:
    """The answers-contract object of a QuestionnaireResponse to our Questionnaire (full or patient
    form, this version or an earlier one). Raises InvalidInput naming every problem (wrong resource,
    another questionnaire, a newer version, an unknown linkId, an answer of the wrong type or code,
    "I don't know" or "None" together with a date or levels); the values themselves are validated by
    ``parse_answers``."""
    problems: list[Problem] = []
    kind = raw.get("resourceType")
    if kind != "QuestionnaireResponse":
        raise InvalidInput([Problem("resourceType", f"{kind!r} is not a QuestionnaireResponse")])
    info = questionnaire.questionnaire
    reference = raw.get("questionnaire")
    url, _, version = str(reference).partition("|") if isinstance(reference, str) else ("", "", "")
    audience = {info.fhir_url: "coordinator", info.fhir_patient_url: "patient"}.get(url)
    if audience is None:
        problems.append(Problem("questionnaire", f"{reference!r} is not this tool's questionnaire "
                                                 f"({info.fhir_url})"))
    elif version and (_version(version) is None or _version(version) > _version(info.version)):
        problems.append(Problem("questionnaire", f"answers version {version} of the questionnaire, newer than "
                                                 f"this tool's version {info.version}; update the tool"))
    status = raw.get("status")
    if status not in USABLE_STATUSES:
        problems.append(Problem("status", f"{status!r} cannot be assessed (use one of: {', '.join(USABLE_STATUSES)})"))
    items = raw.get("item", [])
    if not isinstance(items, list):
        raise InvalidInput(problems + [Problem("item", "must be a list of items")])
    asked = [item for item in questionnaire.items if audience != "patient" or "patient" in item.audience]
    found = _collect(questionnaire, asked, items, problems)
    answers: dict[str, Any] = {}
    for item in asked:
        if item.id not in found and item.id + VALUE_SUFFIX not in found:
            continue
        try:
            value = _value(questionnaire, item, found.get(item.id, []), found.get(item.id + VALUE_SUFFIX, []))
        except ValueError as error:
            problems.append(Problem(item.id, str(error)))
            continue
        if value is not None:
            answers[item.id] = value
    if not is_deidentified(raw):  # de-identified years stay years (triage.interop.deidentified reads them)
        _read_typed_dates(questionnaire, asked, answers, problems)
    if problems:
        raise InvalidInput(problems)
    return answers


_CONTRACT_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$")


def _read_typed_dates(questionnaire: Questionnaire, asked: list[Item], answers: dict[str, Any],
                      problems: list[Problem]) -> None:
    """A date typed in a form renderer as the help says (06/2024, June 2024, junio de 2024, 2024) ->
    the contract's form, read exactly as the terminal reads it (a year alone: the safer month, never
    after the assessment date)."""
    from datetime import date

    from triage.core.interview import InputError, read_patient_date

    assessed = answers.get("assessment_date")
    try:
        not_after = date.fromisoformat(assessed) if isinstance(assessed, str) else date.today()
    except ValueError:
        not_after = date.today()  # the assessment date's own problem is named by parse_answers
    for item in asked:
        value = answers.get(item.id)
        if KINDS[item.id] != "partial_date" or not isinstance(value, str) or value == UNKNOWN \
                or _CONTRACT_DATE.match(value):
            continue
        try:
            answers[item.id] = read_patient_date(item, value, not_after=not_after).value
        except InputError:
            problems.append(Problem(item.id, f"{value!r} is not a date (type it like 06/2024, June 2024, "
                                             "2024 or 2024-06-10)"))


def _collect(questionnaire: Questionnaire, asked: list[Item], items: list[Any],
             problems: list[Problem]) -> dict[str, list[dict[str, Any]]]:
    """Answers by linkId, from the response's items at any depth (section groups, or flat as in
    version 1.0.0). Display items (intro, help) are tolerated when they carry no answer."""
    questions = {item.id for item in asked}
    answerable = questions | {item.id + VALUE_SUFFIX for item in asked if KINDS[item.id] in TWO_PARTS}
    groups = {SECTION_PREFIX + section.id for section in questionnaire.sections}
    displays = {INTRO} | {item.id + HELP_SUFFIX for item in asked}
    found: dict[str, list[dict[str, Any]]] = {}

    def walk(entries: list[Any], where: str) -> None:
        for position, entry in enumerate(entries):
            link = entry.get("linkId") if isinstance(entry, dict) else None
            if not isinstance(link, str):
                problems.append(Problem(f"{where}[{position}]", "has no linkId"))
                continue
            answer = entry.get("answer") or []
            children = entry.get("item") or []
            if link in groups or link in displays:
                if answer:
                    problems.append(Problem(link, "is not a question; it cannot have an answer"))
                elif not isinstance(children, list):
                    problems.append(Problem(link, "item must be a list of items"))
                else:
                    walk(children, link)
                continue
            if link not in answerable:
                whose = "the patient form of " if questions != {item.id for item in questionnaire.items} else ""
                problems.append(Problem(link, f"is not a question of {whose}questionnaire {questionnaire.questionnaire.id}"))
                continue
            if link in found:
                problems.append(Problem(link, "appears twice"))
                continue
            if children or (isinstance(answer, list) and any(isinstance(a, dict) and a.get("item") for a in answer)):
                problems.append(Problem(link, "has nested items; this question has none"))
                continue
            if not isinstance(answer, list) or not all(isinstance(a, dict) for a in answer):
                problems.append(Problem(link, "answer must be a list of answer objects"))
                continue
            found[link] = answer

    walk(items, "item")
    return found


def _value(questionnaire: Questionnaire, item: Item, entries: list[dict[str, Any]],
           value_entries: list[dict[str, Any]]) -> Any:
    """One question's answer in the answers contract, from its item and its ``.value`` item."""
    kind = KINDS[item.id]
    if len(entries) > 1 and kind not in ("multi_choice", "segments"):
        raise ValueError("has several answers; this question takes one")
    if kind in ("text", "integer", "date"):
        if not entries:
            return None
        field = {"text": "valueString", "integer": "valueInteger", "date": "valueDate"}[kind]
        if field in entries[0]:
            return entries[0][field]
        raise ValueError(f"the answer must be a {field}")
    if kind == "partial_date":
        return _partial_date(questionnaire, item, entries, value_entries)
    codes = _coded(questionnaire, item, entries)
    if kind == "segments":
        return _segments(questionnaire, item, codes, value_entries)
    if not codes:
        return None
    if KNOWN in codes:
        raise ValueError(f"code {KNOWN!r} is not an answer option of this question")
    return codes if kind == "multi_choice" else codes[0]


def _coded(questionnaire: Questionnaire, item: Item, entries: list[dict[str, Any]], *,
           allowed: set[str] | None = None) -> list[str]:
    system = questionnaire.questionnaire.fhir_answer_system
    allowed = set(_displays(questionnaire, item)) if allowed is None else allowed
    codes = []
    for entry in entries:
        coding = entry.get("valueCoding")
        if not isinstance(coding, dict):
            raise ValueError("the answer must be a valueCoding")
        if coding.get("system") != system:
            raise ValueError(f"code system {coding.get('system')!r} is not this questionnaire's ({system})")
        if coding.get("code") not in allowed:
            raise ValueError(f"code {coding.get('code')!r} is not an answer option of this question")
        codes.append(coding["code"])
    return codes


def _partial_date(questionnaire: Questionnaire, item: Item, entries: list[dict[str, Any]],
                  value_entries: list[dict[str, Any]]) -> Any:
    if len(value_entries) > 1:
        raise ValueError("has several dates; this question takes one")
    date = None
    if value_entries:
        date = value_entries[0].get("valueString", value_entries[0].get("valueDate"))
        if not isinstance(date, str):
            raise ValueError(f"the date ({item.id}{VALUE_SUFFIX}) must be a valueString such as 2024-03")
    said = None
    if entries:
        entry = entries[0]
        if "valueCoding" in entry:
            said = _coded(questionnaire, item, [entry])[0]
        elif "valueDate" in entry or "valueString" in entry:  # version 1.0.0: the date itself
            said, date = KNOWN, entry.get("valueDate", entry.get("valueString"))
            if value_entries:
                raise ValueError("has two dates")
        elif _absent_unknown(entry.get("_valueDate")):  # version 1.0.0: "I don't know"
            said = UNKNOWN
        else:
            raise ValueError("the answer must be a valueCoding (known or unknown)")
    if said == UNKNOWN:
        if date is not None:
            raise ValueError(f"answered {questionnaire.questionnaire.unknown_text!r} and also gave a date; "
                             "only one can be true")
        return UNKNOWN
    return date  # None when "I know" was chosen and no date typed: not answered


def _segments(questionnaire: Questionnaire, item: Item, codes: list[str], value_entries: list[dict[str, Any]]) -> Any:
    levels = _coded(questionnaire, item, value_entries, allowed=set(SEGMENTS))
    exclusive = [code for code in codes if code in (NONE, UNKNOWN)]
    if exclusive and (len(codes) > 1 or levels):
        shown = questionnaire.questionnaire.unknown_text if exclusive[0] == UNKNOWN else questionnaire.patient_wording.none
        raise ValueError(f"{shown!r} cannot be combined with levels or another answer")
    if exclusive:
        return UNKNOWN if exclusive[0] == UNKNOWN else []
    if KNOWN in codes:
        if len(codes) > 1:
            raise ValueError("has several answers; this question takes one")
        return levels or None
    return (codes + levels) or None  # version 1.0.0: the levels in the question's own item


def _absent_unknown(extension_holder: Any) -> bool:
    if not isinstance(extension_holder, dict):
        return False
    return any(isinstance(ext, dict) and ext.get("url") == DATA_ABSENT_REASON and ext.get("valueCode") == UNKNOWN
               for ext in extension_holder.get("extension", []))


# --- records as DocumentReference (issue 30) ------------------------------------------------------------

# The record items as LOINC document types (the item's title stays the resource's text).
RECORD_DOCUMENT_TYPES = {
    "surgical_report": {"system": "http://loinc.org", "code": "11504-8", "display": "Surgical operation note"},
    "current_mri": {"system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study"},
}


def records_bundle(response: dict[str, Any], files: list[tuple[Any, bytes | None]], *, titles: dict[str, str],
                   data_sha1: dict[int, str]) -> dict[str, Any]:
    """An R4 Bundle (collection) of the QuestionnaireResponse and one DocumentReference per record file
    kept for the intake (``files``: (RecordFile, its bytes or None)), each linked to the response
    (``context.related``). An attachment names its content type, size, title and hash (R4's
    ``Attachment.hash`` is SHA-1, ``data_sha1`` by file id, base64); the store's SHA-256 is the
    resource's identifier (RFC 6920 ``ni:`` URI); the data itself only when given (``--record-data``)."""
    import base64

    response_url = f"urn:uuid:{_uuid('response', response.get('id') or '')}"
    entries = [{"fullUrl": response_url, "resource": response}]
    for file, data in files:
        digest = base64.urlsafe_b64encode(bytes.fromhex(file.sha256)).decode().rstrip("=")
        attachment: dict[str, Any] = {"contentType": file.media_type, "size": file.size,
                                      "hash": data_sha1[file.id], "title": file.filename,
                                      "creation": file.added_at}
        if data is not None:
            attachment["data"] = base64.b64encode(data).decode()
        document: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": f"intake-{file.intake_id}-record-file-{file.id}",
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"ni:///sha-256;{digest}"}],
            "status": "current",
            "type": {"coding": [RECORD_DOCUMENT_TYPES[file.item]] if file.item in RECORD_DOCUMENT_TYPES else [],
                     "text": titles.get(file.item, file.item)},
            "date": file.added_at,  # the store's UTC time is a FHIR instant
            "description": f"{titles.get(file.item, file.item)}: {file.filename} ({file.pages} "
                           f"page{'s' if file.pages != 1 else ''}; added by {file.added_by}, {file.channel})",
            "content": [{"attachment": attachment}],
            "context": {"related": [{"reference": response_url}]},
        }
        if "subject" in response:
            document["subject"] = response["subject"]
        entries.append({"fullUrl": f"urn:uuid:{_uuid('file', str(file.id), file.sha256)}", "resource": document})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _uuid(*parts: str) -> str:
    """A stable UUID for a bundle entry (the same export gives the same bundle)."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fbss-triage:" + ":".join(parts)))
