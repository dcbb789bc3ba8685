"""The answers contract (PRODUCT.md): one flat object, question id -> answer, every key optional.

Validation normalises what people really type (``true``, ``L4-5``) and rejects what cannot be meant,
naming the field. ``None`` means "not answered"; "unknown" is an answer of its own and is never read
as "no".
"""

from __future__ import annotations

import reprlib
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from triage.core.dates import PartialDate, parse_full_date
from triage.core.errors import InvalidInput, Problem
from triage.core.safe_text import refuse_unsafe
from triage.core.segments import expand_segments, in_spine_order

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
    word = _word(value)
    if word in YES_NO_UNKNOWN:
        return word
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


class Answers(BaseModel):
    """Validated answers. ``None`` = not answered. Field names are the question ids; the kind of answer
    each takes is ``KINDS``' to say.

    Every answer is checked by its kind's function (``check_answers``), not by a pydantic type: the
    same checks run whether the model is validated (``Answers.model_validate``) or built by
    ``parse_answers`` from answers it has already checked (``Answers.from_checked``). That second way never
    builds a pydantic schema: building the first one costs ~25 ms (a seventh of `triage assess`'s
    start-up), and the definitions kept validated (triage/core/definition_cache.py) need none.
    tests/core/test_answers.py checks that both ways agree on every answer and every problem."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    patient_id: Any = None
    assessment_date: Any = None
    fusion_date: Any = None
    fused_levels: Any = None
    surgical_report_available: Any = None
    mri_available: Any = None
    mri_date: Any = None
    annular_tear_levels: Any = None
    pain_location: Any = None
    pain_quality: Any = None
    pain_pattern_since_surgery: Any = None
    pain_score: Any = None
    hardware_problem_known: Any = None
    mechanical_symptoms: Any = None
    red_flag_bladder_bowel: Any = None
    red_flag_saddle_numbness: Any = None
    red_flag_sexual_function: Any = None
    red_flag_both_legs: Any = None
    red_flag_progressive_weakness: Any = None
    red_flag_clot_signs: Any = None
    red_flag_major_trauma: Any = None
    red_flag_fever_or_wound: Any = None
    red_flag_cancer_or_weight_loss: Any = None
    red_flag_immunosuppression: Any = None
    veteran: Any = None
    va_enrolled: Any = None
    va_drive_time_over_standard: Any = None
    va_wait_over_standard: Any = None
    va_no_full_service_facility: Any = None
    va_referral: Any = None

    @model_validator(mode="before")
    @classmethod
    def _check_each_answer(cls, data: Any) -> Any:
        """InvalidInput passes through pydantic untouched: every problem at once, each naming its
        field. A key that is not a question is left to ``extra="forbid"``."""
        if not isinstance(data, dict):
            return data
        checked, problems = check_answers(data)
        if problems:
            raise InvalidInput(problems)
        return {**data, **checked}

    @model_validator(mode="after")
    def _dates_not_after_assessment(self) -> "Answers":
        problem = _date_after_assessment(self.__dict__)
        if problem is not None:
            raise ValueError(str(problem))
        return self

    @classmethod
    def from_checked(cls, values: dict[str, Any]) -> "Answers":
        """The model of answers already checked by ``check_answers`` and the date check (what
        ``parse_answers`` does): what ``model_construct`` makes, without its per-field loop (a fifth
        of a batch line's validation). tests/core/test_answers.py shows it equal to ``model_validate``'s."""
        answers = cls.__new__(cls)
        object.__setattr__(answers, "__dict__", {**_UNANSWERED, **values})
        object.__setattr__(answers, "__pydantic_fields_set__", set(values))
        object.__setattr__(answers, "__pydantic_extra__", None)
        object.__setattr__(answers, "__pydantic_private__", None)
        return answers

    def answered(self) -> dict[str, Any]:
        """The answers-contract JSON object: answered fields only, in question order."""
        values = self.__dict__
        return {question: _as_text(values[question]) for question in QUESTION_IDS if values[question] is not None}

    def as_json(self, question: str) -> Any:
        """One answer as ``answered()`` gives it (None = not answered), without dumping them all."""
        return _as_text(getattr(self, question))


QUESTION_IDS: tuple[str, ...] = tuple(Answers.model_fields)
# For membership tests: reading ``Answers.model_fields`` goes through a pydantic descriptor each time
# (5% of batch time when done per key).
_QUESTION_SET = frozenset(QUESTION_IDS)
_UNANSWERED = dict.fromkeys(QUESTION_IDS)
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
_CHECK_OF_KIND = {"text": _text, "date": _full_date, "partial_date": _partial_date, "segments": _segments,
                  "integer": _score, "yes_no_unknown": _yes_no_unknown}
# Each question's check, in question order (the order problems are listed in).
_CHECKS = {
    question: _choice(CHOICES[question]) if KINDS[question] == "choice"
    else _choices(CHOICES[question]) if KINDS[question] == "multi_choice"
    else _CHECK_OF_KIND[KINDS[question]]
    for question in QUESTION_IDS
}


def check_answers(given: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Each answer given (``None`` = not answered) checked by its question's check, in question order:
    (the answers as validated values, a problem per answer that is not valid). Other keys are ignored."""
    checked, problems = {}, []
    for question, check in _CHECKS.items():
        value = given.get(question)
        if value is None:
            continue
        try:
            checked[question] = check(value)
        except ValueError as error:
            problems.append(Problem(question, str(error)))
    return checked, problems


def _date_after_assessment(values: dict[str, Any]) -> Problem | None:
    assessed = values.get("assessment_date")
    if assessed is None:
        return None
    for name in ("fusion_date", "mri_date"):
        value = values.get(name)
        if isinstance(value, PartialDate) and value.earliest > assessed:
            return Problem(name, f"{value} is after the assessment date {assessed}")
    return None


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
    checked, field_problems = check_answers(given)
    if field_problems:
        raise InvalidInput(problems + field_problems)
    date_problem = _date_after_assessment(checked)
    if date_problem is not None:
        raise InvalidInput([*problems, date_problem])
    if problems:
        raise InvalidInput(problems)
    return Answers.from_checked(checked)
