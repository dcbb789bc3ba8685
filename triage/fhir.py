"""FHIR R4: our questionnaire as a Questionnaire, answers as a QuestionnaireResponse, and back.

Plain JSON dicts built from the questionnaire definition; no FHIR library at run time (the tests
validate the output with ``fhir.resources``). Mapping, one item per question, linkId = question id:

| answers kind   | item type | answer                                                            |
|----------------|-----------|-------------------------------------------------------------------|
| text           | string    | valueString                                                       |
| date           | date      | valueDate                                                         |
| partial_date   | date      | valueDate (YYYY-MM is a FHIR date); "unknown" = no value, with the |
|                |           | standard data-absent-reason extension ``unknown`` on ``_valueDate`` |
| integer        | integer   | valueInteger (minValue / maxValue extensions on the item)         |
| yes_no_unknown | choice    | valueCoding yes / no / unknown                                    |
| choice         | choice    | valueCoding                                                       |
| multi_choice   | choice    | one valueCoding per choice (repeats)                              |
| segments       | choice    | one valueCoding per segment (repeats); [] = code none; unknown    |

Codes live in the questionnaire's own code system (``fhir_answer_system``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from triage.answers import KINDS
from triage.errors import InvalidInput, Problem
from triage.segments import SEGMENTS

if TYPE_CHECKING:  # annotations only: `triage assess` checks every file for FHIR, and the
    # questionnaire models cost start-up time that JSON output never needs.
    from triage.questionnaire import Item, Questionnaire

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
UNKNOWN = "unknown"
NONE = "none"  # segments answered with an empty list: e.g. "the MRI report notes no tear"

ITEM_TYPES = {
    "text": "string", "date": "date", "partial_date": "date", "integer": "integer",
    "yes_no_unknown": "choice", "choice": "choice", "multi_choice": "choice", "segments": "choice",
}
# Statuses of a response that can be assessed: an unfinished one simply leaves questions unanswered.
USABLE_STATUSES = ("completed", "amended", "in-progress", "stopped")


def _codes(questionnaire: Questionnaire, item: Item) -> list[tuple[str, str]]:
    """(code, display) of every answer an item can take, in order."""
    unknown = (UNKNOWN, questionnaire.questionnaire.unknown_text)
    kind = KINDS[item.id]
    if kind == "yes_no_unknown":
        return [("yes", "yes"), ("no", "no"), unknown]
    if kind in ("choice", "multi_choice"):
        return [(option.value, option.text) for option in item.options]
    if kind == "segments":
        return [(segment, segment) for segment in SEGMENTS] + [(NONE, NONE), unknown]
    return []


def _coding(questionnaire: Questionnaire, item: Item, code: str) -> dict[str, str]:
    display = dict(_codes(questionnaire, item)).get(code, code)
    return {"system": questionnaire.questionnaire.fhir_answer_system, "code": code, "display": display}


def canonical(questionnaire: Questionnaire) -> str:
    info = questionnaire.questionnaire
    return f"{info.fhir_url}|{info.version}"


def questionnaire_resource(questionnaire: Questionnaire) -> dict[str, Any]:
    """The R4 Questionnaire: one item per question, skip logic as enableWhen, nothing required
    (every answer is optional in the answers contract; a missing one is reported, never refused)."""
    info = questionnaire.questionnaire
    items = []
    for item in questionnaire.items:
        entry: dict[str, Any] = {"linkId": item.id, "text": item.text, "type": ITEM_TYPES[KINDS[item.id]],
                                 "required": False}
        if KINDS[item.id] in ("multi_choice", "segments"):
            entry["repeats"] = True
        codes = _codes(questionnaire, item)
        if codes:
            entry["answerOption"] = [{"valueCoding": _coding(questionnaire, item, code)} for code, _ in codes]
        if KINDS[item.id] == "integer":
            entry["extension"] = [{"url": MIN_VALUE, "valueInteger": item.min},
                                  {"url": MAX_VALUE, "valueInteger": item.max}]
        if item.ask_when:
            target = questionnaire.item(item.ask_when.question)
            condition: dict[str, Any] = {"question": target.id, "operator": "="}
            if _codes(questionnaire, target):
                condition["answerCoding"] = _coding(questionnaire, target, item.ask_when.eq)
            else:
                condition["answerString"] = item.ask_when.eq
            entry["enableWhen"] = [condition]
        items.append(entry)
    return {
        "resourceType": "Questionnaire",
        "id": info.id,
        "url": info.fhir_url,
        "version": info.version,
        "name": "".join(part.capitalize() for part in info.id.replace("_", "-").split("-")),
        "title": info.title,
        "status": "active",
        "subjectType": ["Patient"],
        "item": items,
    }


def response_resource(questionnaire: Questionnaire, answers: dict[str, Any], *, authored: str | None = None,
                      resource_id: str | None = None, status: str = "completed") -> dict[str, Any]:
    """An R4 QuestionnaireResponse for an answers-contract object (answered questions only)."""
    items = []
    for item in questionnaire.items:
        if item.id not in answers:
            continue
        values = _answer_values(questionnaire, item, answers[item.id])
        if values:
            items.append({"linkId": item.id, "text": item.text, "answer": values})
    resource: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if resource_id:
        resource["id"] = resource_id
    resource["questionnaire"] = canonical(questionnaire)
    resource["status"] = status
    if authored:
        resource["authored"] = authored
    resource["item"] = items
    return resource


def _answer_values(questionnaire: Questionnaire, item: Item, value: Any) -> list[dict[str, Any]]:
    kind = KINDS[item.id]
    if kind == "text":
        return [{"valueString": str(value)}]
    if kind == "integer":
        return [{"valueInteger": int(value)}]
    if kind in ("date", "partial_date"):
        if value == UNKNOWN:
            return [{"_valueDate": {"extension": [{"url": DATA_ABSENT_REASON, "valueCode": UNKNOWN}]}}]
        return [{"valueDate": str(value)}]
    if kind == "segments":
        codes = [UNKNOWN] if value == UNKNOWN else (list(value) or [NONE])
        return [{"valueCoding": _coding(questionnaire, item, code)} for code in codes]
    if kind == "multi_choice":  # [] says no more than "not answered": no answer entries
        return [{"valueCoding": _coding(questionnaire, item, code)} for code in value]
    return [{"valueCoding": _coding(questionnaire, item, str(value))}]


def is_response(raw: Any) -> bool:
    """Does this JSON look like a FHIR resource rather than an answers object?"""
    return isinstance(raw, dict) and "resourceType" in raw


def answers_from_response(raw: dict[str, Any], questionnaire: Questionnaire) -> dict[str, Any]:
    """The answers-contract object of a QuestionnaireResponse for our questionnaire. Raises
    InvalidInput naming every problem (wrong resource, another questionnaire, an unknown linkId, an
    answer of the wrong type or code); the values themselves are validated by ``parse_answers``."""
    problems: list[Problem] = []
    kind = raw.get("resourceType")
    if kind != "QuestionnaireResponse":
        raise InvalidInput([Problem("resourceType", f"{kind!r} is not a QuestionnaireResponse")])
    info = questionnaire.questionnaire
    reference = raw.get("questionnaire")
    url, _, version = str(reference).partition("|") if isinstance(reference, str) else ("", "", "")
    if url != info.fhir_url:
        problems.append(Problem("questionnaire", f"{reference!r} is not this tool's questionnaire "
                                                 f"({info.fhir_url})"))
    elif version and version != info.version:
        problems.append(Problem("questionnaire", f"answers version {version} of the questionnaire; this tool "
                                                 f"has version {info.version}"))
    status = raw.get("status")
    if status not in USABLE_STATUSES:
        problems.append(Problem("status", f"{status!r} cannot be assessed (use one of: {', '.join(USABLE_STATUSES)})"))
    items = raw.get("item", [])
    if not isinstance(items, list):
        raise InvalidInput(problems + [Problem("item", "must be a list of items")])
    known = {item.id: item for item in questionnaire.items}
    answers: dict[str, Any] = {}
    for position, entry in enumerate(items):
        link = entry.get("linkId") if isinstance(entry, dict) else None
        if not isinstance(link, str):
            problems.append(Problem(f"item[{position}]", "has no linkId"))
            continue
        if link not in known:
            problems.append(Problem(link, f"is not a question of questionnaire {info.id}"))
            continue
        if link in answers:
            problems.append(Problem(link, "appears twice"))
            continue
        if entry.get("item"):
            problems.append(Problem(link, "has nested items; this questionnaire has none"))
            continue
        try:
            value = _value(questionnaire, known[link], entry.get("answer") or [])
        except ValueError as error:
            problems.append(Problem(link, str(error)))
            continue
        if value is not None:
            answers[link] = value
    if problems:
        raise InvalidInput(problems)
    return answers


def _value(questionnaire: Questionnaire, item: Item, entries: list[Any]) -> Any:
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ValueError("answer must be a list of answer objects")
    if not entries:
        return None
    kind = KINDS[item.id]
    repeats = kind in ("multi_choice", "segments")
    if len(entries) > 1 and not repeats:
        raise ValueError("has several answers; this question takes one")
    if kind in ("text", "integer", "date", "partial_date"):
        entry = entries[0]
        field = {"text": "valueString", "integer": "valueInteger"}.get(kind, "valueDate")
        if field in entry:
            return entry[field]
        if kind == "partial_date" and _absent_unknown(entry.get("_valueDate")):
            return UNKNOWN
        raise ValueError(f"the answer must be a {field}")
    codes = []
    system = questionnaire.questionnaire.fhir_answer_system
    allowed = {code for code, _ in _codes(questionnaire, item)}
    for entry in entries:
        coding = entry.get("valueCoding")
        if not isinstance(coding, dict):
            raise ValueError("the answer must be a valueCoding")
        if coding.get("system") != system:
            raise ValueError(f"code system {coding.get('system')!r} is not this questionnaire's ({system})")
        if coding.get("code") not in allowed:
            raise ValueError(f"code {coding.get('code')!r} is not an answer option of this question")
        codes.append(coding["code"])
    if kind == "segments":
        if codes in ([UNKNOWN], [NONE]):
            return UNKNOWN if codes == [UNKNOWN] else []
        if UNKNOWN in codes or NONE in codes:
            raise ValueError("none or unknown cannot be combined with levels")
        return codes
    return codes if kind == "multi_choice" else codes[0]


def _absent_unknown(extension_holder: Any) -> bool:
    if not isinstance(extension_holder, dict):
        return False
    return any(isinstance(ext, dict) and ext.get("url") == DATA_ABSENT_REASON and ext.get("valueCode") == UNKNOWN
               for ext in extension_holder.get("extension", []))
