"""The guided interview, without a terminal: which question comes next, what a typed answer means,
whether it is valid, going back, the review, and skip logic re-applied after every answer.

Pure Python (no rich, no I/O), so every behaviour of `triage intake` can be tested as data. Validity is
decided by the answers contract itself (``parse_answers``), so the prompt and `triage assess` can never
disagree. Answers are kept as the answers-contract JSON object, in canonical form (``L4-5`` is stored
as ``L4-L5``), so whatever is saved is a file `triage assess` accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from triage.answers import QUESTION_IDS, UNKNOWN, parse_answers
from triage.errors import InvalidInput
from triage.questionnaire import Audience, Item, Questionnaire
from triage.segments import normalise_segment

Mode = Audience  # the person at the keyboard: "coordinator" or "patient"
DateOrder = Literal["MDY", "DMY"]

BACK = frozenset({"<", "b"})
HELP = "?"
# Ways people say "I don't know"; the questionnaire's own unknown_text is added per interview.
UNKNOWN_WORDS = frozenset({"u", "unknown", "dk", "idk", "don't know", "dont know", "i don't know", "i dont know",
                           "not sure"})
NONE_WORDS = frozenset({"none", "no tear", "no tears", "[]"})
YES_WORDS = frozenset({"y", "yes", "true"})
NO_WORDS = frozenset({"n", "no", "false"})


class InputError(ValueError):
    """What was typed cannot be used as an answer; the message says why, in plain words."""


# --- what was typed -> an action ------------------------------------------------------------------

@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Answer:
    """A contract value to validate; ``None`` = leave the question unanswered."""

    value: Any


Action = Back | Help | Answer


def interpret(item: Item, typed: str, *, mode: Mode, date_order: DateOrder = "MDY",
              current: Any = None, default: Any = None, unknown_text: str = "") -> Action:
    """Read one typed line for ``item``. Enter keeps the current answer (or takes the default).

    Raises InputError with a plain reason when the line cannot be an answer. The value returned is
    not yet validated against the contract (dates may still be impossible): see Interview.check.
    """
    text = typed.strip()
    word = text.lower()
    if word in BACK:
        return Back()
    if word == HELP:
        return Help()
    if not text:
        if current is not None:
            return Answer(current)
        if default is not None:
            return Answer(default)
        if item.type == "text":
            return Answer(None)
        raise InputError("an answer is needed here")
    is_unknown = word in UNKNOWN_WORDS or (unknown_text and word == unknown_text.lower())
    if is_unknown and item.type == "text":
        is_unknown = False  # a reference is taken as typed
    # Patients pick from numbered options; the last number is "I don't know".
    if mode == "patient" and item.type in ("yes_no_unknown", "choice", "multi_choice"):
        unknown_number = str(len(_options(item)) + 1)
        if word == unknown_number:
            is_unknown = True
    reader = _READERS[item.type]
    if is_unknown:
        if item.type == "date":
            raise InputError("the assessment date cannot be unknown; press Enter for today")
        # The contract has "unknown" for yes/no, dates and levels; elsewhere it is "not answered",
        # which the rules treat as missing (never as "no").
        return Answer(UNKNOWN if item.type in ("yes_no_unknown", "partial_date", "segments") else None)
    return Answer(reader(item, text, date_order))


def _options(item: Item) -> list[tuple[str, str, str]]:
    """(value, coordinator label, patient text) in the order shown; yes/no questions have two."""
    if item.type == "yes_no_unknown":
        return [("yes", "yes", "yes"), ("no", "no", "no")]
    return [(option.value, option.label, option.text) for option in item.options]


def _pick(item: Item, token: str) -> str:
    options = _options(item)
    word = token.strip().lower()
    if word.isdigit():
        number = int(word)
        if 1 <= number <= len(options):
            return options[number - 1][0]
        raise InputError(f"{token!r} is not one of the numbers shown (1 to {len(options)})")
    for value, label, text in options:
        if word in (value, label.lower(), text.lower(), value.replace("_", " ")):
            return value
    raise InputError(f"{token!r} is not one of the choices; type its number")


def _read_yes_no(item: Item, text: str, date_order: DateOrder) -> str:
    word = text.lower()
    if word in YES_WORDS:
        return "yes"
    if word in NO_WORDS:
        return "no"
    if word.isdigit():
        return _pick(item, word)
    raise InputError(f"{text!r} is not an answer here; type y, n or u")


def _read_choice(item: Item, text: str, date_order: DateOrder) -> str:
    return _pick(item, text)


def _read_choices(item: Item, text: str, date_order: DateOrder) -> list[str]:
    tokens = [token for token in re.split(r"[\s,;]+", text) if token]
    chosen = {_pick(item, token) for token in tokens}
    return [value for value, _, _ in _options(item) if value in chosen]


def _read_integer(item: Item, text: str, date_order: DateOrder) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise InputError(f"{text!r} is not a whole number from {item.min} to {item.max}")
    return int(text)


def _read_text(item: Item, text: str, date_order: DateOrder) -> str:
    return text


def _read_segments(item: Item, text: str, date_order: DateOrder) -> list[str]:
    if text.lower() in NONE_WORDS:
        if not item.allow_none:
            raise InputError("name at least one level here, or type u if it is not known")
        return []
    tokens = [token for token in re.split(r"[\s,;]+|\band\b", text) if token]
    levels = []
    for token in tokens:
        try:
            levels.append(normalise_segment(token))
        except ValueError as error:
            raise InputError(str(error)) from None
    return levels


_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_SLASH_MONTH = re.compile(r"^(\d{1,2})/(\d{4})$")
_SLASH_DAY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_SHORT_YEAR = re.compile(r"^\d{1,2}[/.](\d{1,2}[/.])?\d{2}$")


def date_forms(kind: str, date_order: DateOrder) -> str:
    """The forms a typed date may take, as shown in coordinator prompts (order made explicit)."""
    slashed = "MM/DD/YYYY" if date_order == "MDY" else "DD/MM/YYYY"
    if kind == "date":
        return f"YYYY-MM-DD or {slashed}"
    return f"YYYY-MM, MM/YYYY, YYYY-MM-DD or {slashed}"


def coordinator_hint(item: Item, date_order: DateOrder) -> str:
    """What a coordinator may type, in the prompt's brackets: ``y/n/u``, ``e.g. L4-5 L5-S1, u``."""
    if item.type == "yes_no_unknown":
        return "y/n/u"
    if item.type == "choice":
        return "number, u"
    if item.type == "multi_choice":
        return "numbers, e.g. 1 3, u"
    if item.type == "integer":
        scale = f"{item.min}-{item.max}"
        return "u" if scale in item.label else f"{scale}, u"  # no "(0-10) (0-10, u)"
    if item.type == "segments":
        return "e.g. L4-5 L5-S1" + (", none" if item.allow_none else "") + ", u"
    if item.type == "date":
        return date_forms("date", date_order)
    if item.type == "partial_date":
        return date_forms("partial_date", date_order) + ", u"
    return "Enter = none"


def patient_hints(item: Item, questionnaire: Questionnaire, date_order: DateOrder) -> list[str]:
    """The lines under a patient's question: numbered answers (the last is "I don't know"), or how
    to type a date, levels or a number; then the keys."""
    w = questionnaire.patient_wording
    unknown = questionnaire.questionnaire.unknown_text
    if item.type in ("yes_no_unknown", "choice", "multi_choice"):
        texts = [w.yes, w.no] if item.type == "yes_no_unknown" else [o.text for o in item.options]
        lines = [f"{n}  {text}" for n, text in enumerate([*texts, unknown], start=1)]
        lines.append(w.choose_many if item.type == "multi_choice" else w.choose_one)
    elif item.type == "partial_date":
        mdy = date_order == "MDY"
        lines = [w.type_date.format(month_example="06/2024", day_example="06/10/2024" if mdy else "10/06/2024",
                                    day_order=w.date_order_mdy if mdy else w.date_order_dmy),
                 w.unknown_key.format(unknown_text=unknown)]
    elif item.type == "segments":
        lines = [w.type_levels_or_none if item.allow_none else w.type_levels,
                 w.unknown_key.format(unknown_text=unknown)]
    elif item.type == "integer":
        lines = [w.type_number.format(min=item.min, max=item.max),
                 w.unknown_key.format(unknown_text=unknown)]
    else:  # text and date are coordinator-only in the shipped questionnaire
        lines = [w.unknown_key.format(unknown_text=unknown)]
    return [*lines, w.keys]


def read_typed_date(text: str, *, partial: bool, date_order: DateOrder = "MDY") -> str:
    """A typed date -> its ISO form (``YYYY-MM-DD``, or ``YYYY-MM`` when ``partial``).

    Only the form is read here; whether the date exists (2025-02-30) is the contract's decision.
    """
    text = text.strip()
    if match := _ISO_DAY.match(text):
        year, month, day = match.groups()
    elif match := _SLASH_DAY.match(text):
        first, second, year = match.groups()
        month, day = (first, second) if date_order == "MDY" else (second, first)
    elif partial and (match := (_ISO_MONTH.match(text) or _SLASH_MONTH.match(text))):
        first, second = match.groups()
        year, month = (first, second) if len(first) == 4 else (second, first)
        return f"{year}-{int(month):02d}"
    elif _SHORT_YEAR.match(text):
        raise InputError(f"{text!r} has a two-digit year; type all four digits (e.g. 2024)")
    elif not partial and (_ISO_MONTH.match(text) or _SLASH_MONTH.match(text)):
        raise InputError(f"{text!r} has no day; type {date_forms('date', date_order)}")
    else:
        raise InputError(f"{text!r} is not a date; type {date_forms('partial_date' if partial else 'date', date_order)}")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _read_date(item: Item, text: str, date_order: DateOrder) -> str:
    return read_typed_date(text, partial=item.type == "partial_date", date_order=date_order)


_READERS = {
    "yes_no_unknown": _read_yes_no,
    "choice": _read_choice,
    "multi_choice": _read_choices,
    "integer": _read_integer,
    "text": _read_text,
    "segments": _read_segments,
    "date": _read_date,
    "partial_date": _read_date,
}


# --- the interview ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What one accepted answer changed."""

    item: Item
    value: Any  # canonical contract value, None = not answered
    dropped: list[Item] = field(default_factory=list)  # answers removed: their question is no longer asked
    revealed: list[Item] = field(default_factory=list)  # questions now asked that were not before
    red_flag: bool = False  # a red-flag question just became "yes"


class Interview:
    """Where a person is in the questionnaire and what they answered so far.

    ``answers`` is always a valid answers-contract object (checked on every change). ``position`` is
    an index into ``asked()``; ``position == len(asked())`` means all questions were passed: the review.
    """

    def __init__(self, questionnaire: Questionnaire, mode: Mode, *, today: date,
                 answers: dict[str, Any] | None = None):
        self.questionnaire = questionnaire
        self.mode: Mode = mode
        self.today = today
        self.answers: dict[str, Any] = {}
        self.dropped_at_start: list[Item] = []
        if answers:
            self.answers = self.validated(answers)
            self.dropped_at_start = self._drop_hidden()
        self.position = self.resume_position()

    # The ordered list of questions asked now: skip logic re-applied to the current answers.
    def asked(self) -> list[Item]:
        return self.questionnaire.asked(self.answers, self.mode)

    @property
    def current(self) -> Item | None:
        asked = self.asked()
        return asked[self.position] if self.position < len(asked) else None

    def progress(self) -> tuple[int, int]:
        """(question number, questions asked in all), counting with the skip logic as it stands."""
        return self.position + 1, len(self.asked())

    def resume_position(self) -> int:
        """Where a resumed intake continues: after the last question that has an answer. (Not at the
        first unanswered one: a question passed with Enter or "I don't know" may rightly stay empty,
        e.g. no patient reference, and would otherwise be asked again on every resume.)"""
        answered = [n for n, item in enumerate(self.asked()) if item.id in self.answers]
        return answered[-1] + 1 if answered else 0

    def default(self, item: Item) -> Any:
        """What Enter means when the question has no answer yet."""
        return self.today.isoformat() if item.type == "date" else None

    def validated(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The contract's canonical form of ``raw`` (only the keys given); InvalidInput otherwise."""
        canonical = parse_answers(raw, today=self.today).answered()
        return {key: canonical[key] for key in QUESTION_IDS if key in raw and key in canonical}

    def check(self, item: Item, value: Any) -> Any:
        """Validate one answer together with the others, as `triage assess` would. Returns the
        canonical value; raises InvalidInput whose problems all come from this answer (the others
        were valid before it)."""
        trial = {key: v for key, v in self.answers.items() if key != item.id}
        if value is None:
            self.validated(trial)
            return None
        return self.validated({**trial, item.id: value})[item.id]

    def answer(self, item: Item, value: Any) -> Outcome:
        """Record a (checked) answer, drop answers that skip logic now hides, move to the next question."""
        canonical = self.check(item, value)
        before_asked = {i.id for i in self.asked()}
        was_yes = self.answers.get(item.id) == "yes"
        if canonical is None:
            self.answers.pop(item.id, None)
        else:
            self.answers[item.id] = canonical
        dropped = self._drop_hidden()
        asked = self.asked()
        revealed = [i for i in asked if i.id not in before_asked]
        self.position = next(n for n, i in enumerate(asked) if i.id == item.id) + 1 \
            if any(i.id == item.id for i in asked) else self.resume_position()
        return Outcome(item, canonical, dropped, revealed,
                       red_flag=item.safety and canonical == "yes" and not was_yes)

    def _drop_hidden(self) -> list[Item]:
        """Remove answers to questions that skip logic no longer asks (REDCap's 'hidden' data)."""
        dropped = []
        for item in self.questionnaire.items:
            if item.ask_when and item.id in self.answers and \
                    self.answers.get(item.ask_when.question) != item.ask_when.eq:
                del self.answers[item.id]
                dropped.append(item)
        return dropped

    def back(self) -> bool:
        """To the previous question; False when already at the first."""
        if self.position == 0:
            return False
        self.position -= 1
        return True

    def go_to(self, item_id: str) -> None:
        self.position = next(n for n, item in enumerate(self.asked()) if item.id == item_id)

    def to_review(self) -> None:
        self.position = len(self.asked())

    def review(self) -> list[tuple[int, Item, Any]]:
        """(number, question, answer or None) for every question asked, numbered from 1."""
        return [(n, item, self.answers.get(item.id)) for n, item in enumerate(self.asked(), start=1)]

    def red_flags_yes(self) -> list[Item]:
        return [item for item in self.questionnaire.items if item.safety and self.answers.get(item.id) == "yes"]


# --- for pages that keep answers to hidden questions (the web) ----------------------------------------

def check_answer(answers: dict[str, Any], item: Item, value: Any, *, today: date) -> Any:
    """Validate one answer together with the others, as `triage assess` would; the canonical value
    (None = not answered). Raises InvalidInput. The same check as ``Interview.check``, for callers
    that keep their answers themselves (a web page reads them from the store at each request)."""
    trial = {key: v for key, v in answers.items() if key != item.id}
    if value is not None:
        trial[item.id] = value
    canonical = parse_answers(trial, today=today).answered()
    return canonical.get(item.id) if value is not None else None


def hidden_answers(questionnaire: Questionnaire, answers: dict[str, Any]) -> list[Item]:
    """Questions that have an answer but that skip logic no longer asks (an earlier answer changed).
    The web keeps these answers until the intake is sent, so undoing the change brings them back."""
    return [item for item in questionnaire.items
            if item.ask_when and item.id in answers and answers.get(item.ask_when.question) != item.ask_when.eq]


def without_hidden(questionnaire: Questionnaire, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers that are sent: those to questions still asked."""
    hidden = {item.id for item in hidden_answers(questionnaire, answers)}
    return {key: value for key, value in answers.items() if key not in hidden}


def problem_lines(error: InvalidInput, item: Item, questionnaire: Questionnaire) -> list[str]:
    """One reason per problem; a problem found in another answer (a fusion date now after the
    assessment date) names that question."""
    lines = []
    for problem in error.problems:
        if problem.where == item.id:
            lines.append(problem.message)
        elif problem.where in QUESTION_IDS:
            lines.append(f"{questionnaire.item(problem.where).label}: {problem.message}")
        else:
            lines.append(str(problem))
    return lines


__all__ = [
    "Answer", "Back", "Help", "InputError", "Interview", "Outcome", "check_answer", "coordinator_hint", "date_forms",
    "hidden_answers", "interpret", "patient_hints", "problem_lines", "read_typed_date", "without_hidden",
]
