"""From a question page's form to an answers-contract value, with errors a patient can act on.

Each kind of question has one form shape (radios, checkboxes, or day/month/year boxes) and always an
"I don't know" choice. The form is read here; the value is then checked by the answers contract
itself (triage.core.interview.check_answer), so the web and `triage assess` can never disagree. Errors
are message ids of the web texts (fbss-web.toml), with the id of the field they point to.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from triage.core.answers import EARLIEST_YEAR, UNKNOWN
from triage.core.interview import MONTH_NAMES, year_alone_month
from triage.core.questionnaire import Item
from triage.core.segments import SEGMENTS

UNKNOWN_CHOICE = "unknown"  # the form value of "I don't know"
NONE_CHOICE = "none"  # "None" on a levels question that allows it (the answer [])


@dataclass(frozen=True)
class FieldError:
    message_id: str
    field: str  # the id of the input the error summary links to
    whole: bool = False  # about a whole date (every box is outlined), not one of its boxes


@dataclass(frozen=True)
class Parsed:
    value: Any  # contract value; None = not answered
    unknown: bool  # the patient chose "I don't know"
    year_alone: bool = False  # a year given alone, read as one month of it (the patient is told)


@dataclass(frozen=True)
class Choice:
    value: str
    text: str
    exclusive: bool = False  # "None" and "I don't know": on their own only


def choices(item: Item, *, yes: str, no: str, none: str, unknown: str) -> list[Choice]:
    """The radios or checkboxes of a question, in order, "I don't know" last."""
    if item.type == "yes_no_unknown":
        listed = [Choice("yes", yes), Choice("no", no)]
    elif item.type in ("choice", "multi_choice"):
        listed = [Choice(option.value, option.text) for option in item.options]
    elif item.type == "integer":
        listed = [Choice(str(n), str(n)) for n in range(item.min or 0, (item.max or 0) + 1)]
    elif item.type == "segments":
        listed = [Choice(segment, segment) for segment in SEGMENTS]
        if item.allow_none:
            listed.append(Choice(NONE_CHOICE, none, exclusive=True))
    else:
        listed = []
    return listed + [Choice(UNKNOWN_CHOICE, unknown, exclusive=True)]


def is_multiple(item: Item) -> bool:
    return item.type in ("multi_choice", "segments")


def parse(item: Item, form, *, today: date) -> Parsed | FieldError:
    """Read the submitted form of ``item``. ``form`` is a multidict (``getlist``/``get``)."""
    if item.type == "partial_date":
        return _parse_date(item, form, today)
    picked = [value for value in form.getlist("answer") if value]
    allowed = {choice.value for choice in choices(item, yes="", no="", none="", unknown="")}
    if any(value not in allowed for value in picked):
        return FieldError("error_answer_invalid", item.id)  # a forged form; say nothing more
    unknown = UNKNOWN_CHOICE in picked
    if not is_multiple(item):
        if not picked:
            return FieldError(_missing(item, "error_select_one"), item.id)
        if len(picked) != 1:
            return FieldError("error_select_one", item.id)
        if unknown:
            # The contract has "unknown" for yes/no; elsewhere "I don't know" is "not answered",
            # which the rules treat as missing (never as "no").
            return Parsed(UNKNOWN if item.type == "yes_no_unknown" else None, True)
        return Parsed(int(picked[0]) if item.type == "integer" else picked[0], False)
    if not picked:
        return FieldError(_missing(item, "error_select_many"), item.id)
    if unknown:
        if len(picked) > 1:
            return FieldError("error_unknown_alone", item.id)
        return Parsed(UNKNOWN if item.type == "segments" else None, True)
    if NONE_CHOICE in picked:
        if len(picked) > 1:
            return FieldError("error_none_alone", item.id)
        return Parsed([], False)
    return Parsed(picked, False)


def is_empty(item: Item, form) -> bool:
    """Nothing was chosen or typed on the page."""
    if any(form.getlist("answer")):
        return False
    return item.type != "partial_date" or not any(form.get(part, "").strip() for part in ("day", "month", "year"))


def _parse_date(item: Item, form, today: date) -> Parsed | FieldError:
    day, month, year = (form.get(part, "").strip() for part in ("day", "month", "year"))
    unknown = form.get("answer") == UNKNOWN_CHOICE
    if unknown and (day or month or year):
        return FieldError("error_date_and_unknown", f"{item.id}-month", whole=True)
    if unknown:
        return Parsed(UNKNOWN, True)
    if not month and not year:
        specific = f"error_date_missing_{item.id}"
        return FieldError(specific if specific in _DATE_MISSING else "error_date_missing", f"{item.id}-month", whole=True)
    if not month and not day and item.year_alone:
        # A year alone, as the help allows ("If you only know the year, type the year"): read as the
        # safer month of it, exactly as the terminal reads it, and the next page says so.
        if not (year.isdigit() and len(year) == 4):
            return FieldError("error_date_year", f"{item.id}-year")
        if int(year) < EARLIEST_YEAR:
            return FieldError("error_date_year_range", f"{item.id}-year")
        if int(year) > today.year:
            return FieldError("error_date_future", f"{item.id}-year")
        return Parsed(year_alone_month(item, int(year), today), False, year_alone=True)
    # The month as a number, or its name as the help writes it ("June 2024", "junio de 2024").
    month = str(MONTH_NAMES[month.lower().rstrip(".")]) if month.lower().rstrip(".") in MONTH_NAMES else month
    if not month.isdigit() or not 1 <= int(month) <= 12:
        return FieldError("error_date_month", f"{item.id}-month")
    if not (year.isdigit() and len(year) == 4):
        return FieldError("error_date_year", f"{item.id}-year")
    y, m = int(year), int(month)
    if y < EARLIEST_YEAR:
        return FieldError("error_date_year_range", f"{item.id}-year")
    if day:
        if not day.isdigit() or not 1 <= int(day) <= calendar.monthrange(y, m)[1]:
            return FieldError("error_date_day", f"{item.id}-day")
        if date(y, m, int(day)) > today:
            return FieldError("error_date_future", f"{item.id}-day", whole=True)
        return Parsed(f"{y:04d}-{m:02d}-{int(day):02d}", False)
    if (y, m) > (today.year, today.month):
        return FieldError("error_date_future", f"{item.id}-month", whole=True)
    return Parsed(f"{y:04d}-{m:02d}", False)  # a month stays a month


# Questions with a date error of their own wording ("Enter the month and year of your MRI").
_DATE_MISSING = {"error_date_missing_fusion_date", "error_date_missing_mri_date"}

# Questions whose "nothing chosen" error is in their own words (GOV.UK: "Select yes if you have served
# in the armed forces"): ``error_missing_<id>`` in the web texts. Every question a patient is asked.
MISSING_IN_OWN_WORDS = frozenset({
    "fused_levels", "surgical_report_available", "mri_available", "annular_tear_levels", "pain_location",
    "pain_quality", "pain_pattern_since_surgery", "pain_score", "hardware_problem_known", "mechanical_symptoms",
    "red_flag_bladder_bowel", "red_flag_saddle_numbness", "red_flag_sexual_function", "red_flag_both_legs",
    "red_flag_progressive_weakness", "red_flag_clot_signs", "red_flag_major_trauma", "red_flag_fever_or_wound",
    "red_flag_cancer_or_weight_loss", "red_flag_immunosuppression", "veteran", "va_enrolled",
    "va_drive_time_over_standard", "va_wait_over_standard", "va_no_full_service_facility", "va_referral",
})


def _missing(item: Item, generic: str) -> str:
    return f"error_missing_{item.id}" if item.id in MISSING_IN_OWN_WORDS else generic


def shown(item: Item, value: Any, unknown: bool) -> dict[str, Any]:
    """What a question page shows as already chosen: the checked values, or the date boxes."""
    if item.type == "partial_date":
        if value is None or value == UNKNOWN:
            return {"checked": [UNKNOWN_CHOICE] if value == UNKNOWN else [], "day": "", "month": "", "year": ""}
        parts = str(value).split("-")
        return {"checked": [], "year": parts[0], "month": str(int(parts[1])),
                "day": str(int(parts[2])) if len(parts) == 3 else ""}
    if value is None:
        return {"checked": [UNKNOWN_CHOICE] if unknown else []}
    if value == UNKNOWN:
        return {"checked": [UNKNOWN_CHOICE]}
    if isinstance(value, list):
        return {"checked": list(value) if value else [NONE_CHOICE]}
    return {"checked": [str(value)]}


def submitted(item: Item, form) -> dict[str, Any]:
    """What the patient just typed or ticked, to show again beside an error (nothing is lost)."""
    if item.type == "partial_date":
        return {"checked": [v for v in form.getlist("answer") if v == UNKNOWN_CHOICE],
                "day": form.get("day", "")[:4], "month": form.get("month", "")[:4], "year": form.get("year", "")[:6]}
    return {"checked": form.getlist("answer")}
