"""The answers contract (PRODUCT.md): one flat object, question id -> answer, every key optional.

Validation normalises what people really type (``true``, ``L4-5``) and rejects what cannot be meant,
naming the field. ``None`` means "not answered"; "unknown" is an answer of its own and is never read
as "no".
"""

from __future__ import annotations

import reprlib
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, ValidationError, model_validator

from triage.dates import PartialDate, parse_full_date
from triage.errors import InvalidInput, Problem
from triage.safe_text import refuse_unsafe
from triage.segments import expand_segments, in_spine_order

UNKNOWN = "unknown"
YES_NO_UNKNOWN = ("yes", "no", UNKNOWN)
PAIN_LOCATIONS = ("back", "leg", "back_and_leg")
PAIN_QUALITIES = ("aching", "burning", "shooting", "numbness_tingling")
PAIN_PATTERNS = ("never_improved", "improved_then_returned", "new_different_pain")
# In questionnaire order (a result lists its red flags in this order). Each one's urgency tier is
# the rules file's to say (rules/fbss-triage.toml), not this module's.
RED_FLAGS = (
    "red_flag_bladder_bowel",
    "red_flag_saddle_numbness",
    "red_flag_sexual_function",
    "red_flag_both_legs",
    "red_flag_progressive_weakness",
    "red_flag_clot_signs",
    "red_flag_major_trauma",
    "red_flag_fever_or_wound",
    "red_flag_cancer_or_weight_loss",
    "red_flag_immunosuppression",
)
# The veterans' community-care pre-screen, asked only when `veteran` is yes (answers given otherwise
# are accepted and not used).
VA_QUESTIONS = (
    "va_enrolled",
    "va_drive_time_over_standard",
    "va_wait_over_standard",
    "va_no_full_service_facility",
    "va_referral",
)
EARLIEST_YEAR = 1900  # catches typed years like 0224 or 1024


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlevel = 2


def _shown(value: Any) -> str:
    """The value as a message shows it: repr, cut short (a message stays one readable line)."""
    return _REPR.repr(value)


def _word(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def _yes_no_unknown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _word(value) in YES_NO_UNKNOWN:
        return _word(value)
    raise ValueError(f"{_shown(value)} is not an answer here (use yes, no or unknown; true/false also work)")


def _choice(allowed: tuple[str, ...]):
    def check(value: Any) -> str:
        if _word(value) in allowed:
            return _word(value)
        raise ValueError(f"{_shown(value)} is not one of: {', '.join(allowed)}")

    return check


def _choices(allowed: tuple[str, ...]):
    one = _choice(allowed)

    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise ValueError(f"must be a list of choices from: {', '.join(allowed)}")
        chosen = {one(item) for item in value}
        return tuple(option for option in allowed if option in chosen)

    return check


def _partial_date(value: Any) -> PartialDate | str:
    if _word(value) == UNKNOWN:
        return UNKNOWN
    if not isinstance(value, str):
        raise ValueError("must be a date as text: YYYY-MM-DD, YYYY-MM or \"unknown\"")
    parsed = PartialDate.parse(value.strip())
    if parsed.year < EARLIEST_YEAR:
        raise ValueError(f"{value!r} is before {EARLIEST_YEAR}; check the year")
    return parsed


def _full_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a date as text: YYYY-MM-DD")
    parsed = parse_full_date(value.strip())
    if parsed.year < EARLIEST_YEAR:
        raise ValueError(f"{value!r} is before {EARLIEST_YEAR}; check the year")
    return parsed


def _segments(value: Any) -> tuple[str, ...] | str:
    if _word(value) == UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):  # one segment written as text, as clinicians do: "L4-5" is ["L4-L5"]
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of segments such as [\"L4-L5\", \"L5-S1\"], or \"unknown\"")
    return tuple(in_spine_order(segment for item in value for segment in expand_segments(item)))


def _score(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{_shown(value)} is not a whole number from 0 to 10")
    if not 0 <= value <= 10:
        raise ValueError(f"{_shown(value)} is outside 0 to 10")
    return int(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    if len(value) > 200:
        raise ValueError("is longer than 200 characters")
    # Free text reaches terminals and documents: an escape sequence could clear or rewrite a screen,
    # a right-to-left override reverse what follows it in a worklist.
    return refuse_unsafe(value).strip()


def _as_text(value: Any) -> Any:
    if isinstance(value, (PartialDate, date)):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


answer_as_json = _as_text  # one answer's value as ``answered()`` gives it


def _field(check):
    return Annotated[Any, PlainValidator(check), PlainSerializer(_as_text)]


YesNoUnknown = _field(_yes_no_unknown)
PartialDateAnswer = _field(_partial_date)
Segments = _field(_segments)


class Answers(BaseModel):
    """Validated answers. ``None`` = not answered. Field names are the question ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient_id: _field(_text) = None
    assessment_date: _field(_full_date) = None
    fusion_date: PartialDateAnswer = None
    fused_levels: Segments = None
    surgical_report_available: YesNoUnknown = None
    mri_available: YesNoUnknown = None
    mri_date: PartialDateAnswer = None
    annular_tear_levels: Segments = None
    pain_location: _field(_choice(PAIN_LOCATIONS)) = None
    pain_quality: _field(_choices(PAIN_QUALITIES)) = None
    pain_pattern_since_surgery: _field(_choice(PAIN_PATTERNS)) = None
    pain_score: _field(_score) = None
    hardware_problem_known: YesNoUnknown = None
    mechanical_symptoms: YesNoUnknown = None
    red_flag_bladder_bowel: YesNoUnknown = None
    red_flag_saddle_numbness: YesNoUnknown = None
    red_flag_sexual_function: YesNoUnknown = None
    red_flag_both_legs: YesNoUnknown = None
    red_flag_progressive_weakness: YesNoUnknown = None
    red_flag_clot_signs: YesNoUnknown = None
    red_flag_major_trauma: YesNoUnknown = None
    red_flag_fever_or_wound: YesNoUnknown = None
    red_flag_cancer_or_weight_loss: YesNoUnknown = None
    red_flag_immunosuppression: YesNoUnknown = None
    veteran: YesNoUnknown = None
    va_enrolled: YesNoUnknown = None
    va_drive_time_over_standard: YesNoUnknown = None
    va_wait_over_standard: YesNoUnknown = None
    va_no_full_service_facility: YesNoUnknown = None
    va_referral: YesNoUnknown = None

    @model_validator(mode="after")
    def _dates_not_after_assessment(self) -> "Answers":
        if self.assessment_date is None:
            return self
        for name in ("fusion_date", "mri_date"):
            value = getattr(self, name)
            if isinstance(value, PartialDate) and value.earliest > self.assessment_date:
                raise ValueError(f"{name}: {value} is after the assessment date {self.assessment_date}")
        return self

    def answered(self) -> dict[str, Any]:
        """The answers-contract JSON object: answered fields only, in question order."""
        return self.model_dump(mode="json", exclude_none=True)

    def as_json(self, question: str) -> Any:
        """One answer as ``answered()`` gives it (None = not answered), without dumping them all."""
        return _as_text(getattr(self, question))


QUESTION_IDS: tuple[str, ...] = tuple(Answers.model_fields)
# For membership tests: reading ``Answers.model_fields`` goes through a pydantic descriptor each time
# (5% of batch time when done per key).
_QUESTION_SET = frozenset(QUESTION_IDS)
assert RED_FLAGS == tuple(q for q in QUESTION_IDS if q.startswith("red_flag_")), "RED_FLAGS out of question order"

# The kind of answer each question takes; the questionnaire definition must agree (checked at load).
KINDS: dict[str, str] = {
    "patient_id": "text",
    "assessment_date": "date",
    "fusion_date": "partial_date",
    "fused_levels": "segments",
    "mri_date": "partial_date",
    "annular_tear_levels": "segments",
    "pain_location": "choice",
    "pain_quality": "multi_choice",
    "pain_pattern_since_surgery": "choice",
    "pain_score": "integer",
    **{q: "yes_no_unknown" for q in QUESTION_IDS if q.startswith("red_flag_")},
    **{q: "yes_no_unknown" for q in (
        "surgical_report_available", "mri_available", "hardware_problem_known", "mechanical_symptoms", "veteran",
        *VA_QUESTIONS,
    )},
}
CHOICES: dict[str, tuple[str, ...]] = {
    "pain_location": PAIN_LOCATIONS,
    "pain_quality": PAIN_QUALITIES,
    "pain_pattern_since_surgery": PAIN_PATTERNS,
}


def did_you_mean(key: str) -> str:
    import difflib  # only for a mistyped key

    close = difflib.get_close_matches(key, QUESTION_IDS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_answers(raw: Any, *, today: date, as_of: date | None = None) -> Answers:
    """Validate an answers object. ``as_of`` overrides the file's assessment date; ``today`` fills it
    when neither gives one. Raises InvalidInput listing every problem, each naming its field."""
    if not isinstance(raw, dict):
        raise InvalidInput([Problem("answers", "must be a JSON object of question id -> answer")])
    problems = [
        Problem(str(key) or '""', f"is not a question id{did_you_mean(str(key))}")
        for key in raw
        if key not in _QUESTION_SET
    ]
    given = {key: value for key, value in raw.items() if key in _QUESTION_SET and value is not None}
    if as_of is not None:
        given["assessment_date"] = as_of
    given.setdefault("assessment_date", today)
    try:
        answers = Answers.model_validate(given)
    except ValidationError as error:
        problems += [_problem(detail) for detail in error.errors()]
        raise InvalidInput(problems) from None
    if problems:
        raise InvalidInput(problems)
    return answers


def _problem(detail: dict) -> Problem:
    message = str(detail.get("msg", "is not valid")).removeprefix("Value error, ")
    if detail.get("loc"):
        return Problem(str(detail["loc"][0]), message)
    # Model-level checks put the field name in front of their message.
    field, _, rest = message.partition(": ")
    return Problem(field, rest) if rest else Problem("answers", message)
