"""The guided interview, without a terminal: which question comes next, what a typed answer means,
whether it is valid, going back, the review, and skip logic re-applied after every answer.

Pure Python (no rich, no I/O), so every behaviour of `triage intake` can be tested as data. Validity is
decided by the answers contract itself (``parse_answers``), so the prompt and `triage assess` can never
disagree. Answers are kept as the answers-contract JSON object, in canonical form (``L4-5`` is stored
as ``L4-L5``), so whatever is saved is a file `triage assess` accepts.
"""

from __future__ import annotations

import re
import calendar
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from triage.core.answers import QUESTION_IDS, UNKNOWN, parse_answers
from triage.core.errors import InvalidInput
from triage.core.questionnaire import Audience, Item, Questionnaire
from triage.core.segments import expand_segments

Mode = Audience  # the person at the keyboard: "coordinator" or "patient"
DateOrder = Literal["MDY", "DMY"]

BACK = "<"  # always back; "b" too, but only at a terminal and where no answer starts with b (back_word)
HELP = "?"
TODAY_WORDS = frozenset({"t", "today"})
# Ways people say "I don't know"; the questionnaire's own unknown_text is added per interview.
UNKNOWN_WORDS = frozenset({"u", "unknown", "dk", "idk", "don't know", "dont know", "i don't know", "i dont know",
                           "not sure", "no sé", "no se", "ns"})  # Spanish: "no sé"
NONE_WORDS = frozenset({"none", "no", "n", "nothing", "no tear", "no tears", "[]",
                        "ninguno", "ninguna", "nada"})  # Spanish: "ninguno"
YES_WORDS = frozenset({"y", "yes", "true", "sí", "si"})  # Spanish: "sí"
NO_WORDS = frozenset({"n", "no", "false"})


class InputError(ValueError):
    """What was typed cannot be used as an answer. ``str()`` is the reason in a coordinator's words;
    ``kind`` and ``params`` pick the patient's sentence (``patient_wording.errors``)."""

    def __init__(self, message: str, kind: str = "", **params: Any):
        super().__init__(message)
        self.kind = kind
        self.params = params


# --- what was typed -> an action ------------------------------------------------------------------

@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Answer:
    """A contract value to validate; ``None`` = leave the question unanswered. ``year_alone`` is
    True when a year typed alone was read as one month of it (the person should be told)."""

    value: Any
    year_alone: bool = False


Action = Back | Help | Answer


@dataclass(frozen=True)
class _Reading:
    mode: Mode
    date_order: DateOrder
    not_after: date | None  # the assessment date: a year alone is never read past it
    unknown_text: str


def back_word(item: Item) -> bool:
    """Whether ``b`` may mean "back" at ``item``: not where an answer starts with b (1=back
    2=leg 3=back+leg, or "burning"), where it would look like an answer."""
    words = [w for option in _options(item) for text in option for w in re.split(r"[^a-z]+", text.lower())]
    return not any(word.startswith("b") for word in words)


def interpret(item: Item, typed: str, *, mode: Mode, date_order: DateOrder = "MDY",
              current: Any = None, default: Any = None, unknown_text: str = "",
              interactive: bool = True, not_after: date | None = None) -> Action:
    """Read one typed line for ``item``. Enter keeps the current answer (or takes the default).

    ``<`` goes back; so does ``b``, but only at a terminal (``interactive``) and where no answer
    starts with b: in piped input a stray b must never silently step back. ``t`` is today where
    the question is a full date. Raises InputError with a plain reason when the line cannot be an
    answer. The value returned is not yet validated against the contract (dates may still be
    impossible): see Interview.check.
    """
    text = typed.strip()
    word = text.lower()
    if word == BACK or (word in ("b", "back") and interactive and back_word(item)):
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
        raise InputError("an answer is needed here", "needed")
    if item.type == "date" and word in TODAY_WORDS and default is not None:
        return Answer(default)
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
            raise InputError("the assessment date cannot be unknown; press Enter for today", "needed")
        # The contract has "unknown" for yes/no, dates and levels; elsewhere it is "not answered",
        # which the rules treat as missing (never as "no").
        return Answer(UNKNOWN if item.type in ("yes_no_unknown", "partial_date", "segments") else None)
    value = reader(item, text, _Reading(mode, date_order, not_after, unknown_text or "I don't know"))
    if isinstance(value, Answer):
        return value
    return Answer(value)


def _options(item: Item) -> list[tuple[str, str, str]]:
    """(value, coordinator label, patient text) in the order shown; yes/no questions have two."""
    if item.type == "yes_no_unknown":
        return [("yes", "yes", "yes"), ("no", "no", "no")]
    return [(option.value, option.label, option.text) for option in item.options]


def _pick(item: Item, token: str) -> str:
    options = _options(item)
    word = token.strip().lower()
    if word.isascii() and word.isdigit():
        number = int(word)
        if 1 <= number <= len(options):
            return options[number - 1][0]
        raise InputError(f"{token!r} is not one of the numbers shown (1 to {len(options)})", "not_a_choice",
                         count=len(options) + 1)
    for value, label, text in options:
        if word in (value, label.lower(), text.lower(), value.replace("_", " ")):
            return value
    back = "; < goes back" if word in ("b", "back") else ""
    raise InputError(f"{token!r} is not one of the choices; type its number{back}", "not_a_choice",
                     count=len(options) + 1)


def _read_yes_no(item: Item, text: str, reading: _Reading) -> str:
    word = text.lower()
    if word in YES_WORDS:
        return "yes"
    if word in NO_WORDS:
        return "no"
    if word.isascii() and word.isdigit():
        return _pick(item, word)
    raise InputError(f"{text!r} is not an answer here; type y, n or u", "not_a_choice", count=3)


def _read_choice(item: Item, text: str, reading: _Reading) -> str:
    return _pick(item, text)


def _read_choices(item: Item, text: str, reading: _Reading) -> list[str]:
    tokens = [token for token in re.split(r"[\s,;]+", text) if token]
    unknown = {*UNKNOWN_WORDS, reading.unknown_text.lower()}
    if reading.mode == "patient":
        unknown.add(str(len(_options(item)) + 1))
    if any(token.lower() in unknown for token in tokens):  # alone, it was read as unknown before
        raise InputError(f"\"{reading.unknown_text}\" cannot be combined with other answers",
                         "unknown_combined", unknown_text=reading.unknown_text)
    chosen = {_pick(item, token) for token in tokens}
    return [value for value, _, _ in _options(item) if value in chosen]


def _read_integer(item: Item, text: str, reading: _Reading) -> int:
    # Clinicians write a score out of its maximum: 7/10, 7 of 10, 7 out of 10.
    match = re.fullmatch(rf"\s*([+-]?[0-9]+)\s*(?:/|of|out of)\s*{item.max}\s*", text) if item.max is not None else None
    if match:
        return int(match.group(1))
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise InputError(f"{text!r} is not a whole number from {item.min} to {item.max}", "whole_number",
                         min=item.min, max=item.max)
    return int(text)


def _read_text(item: Item, text: str, reading: _Reading) -> str:
    return text


def _read_segments(item: Item, text: str, reading: _Reading) -> list[str]:
    if text.lower() in NONE_WORDS:
        if not item.allow_none:
            raise InputError("name at least one level here, or type u if it is not known", "level_needed")
        return []
    tokens = [token for token in re.split(r"[\s,;]+|\band\b", text) if token]
    levels = []
    for token in tokens:
        try:
            levels += expand_segments(token)  # a range (L4-S1) names every segment in it
        except ValueError as error:
            raise InputError(str(error), "level") from None
    return levels


_ISO_DAY = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_ISO_MONTH = re.compile(r"^([0-9]{4})-([0-9]{1,2})$")
_SLASH_MONTH = re.compile(r"^([0-9]{1,2})/([0-9]{4})$")
_SLASH_DAY = re.compile(r"^([0-9]{1,2})[/.]([0-9]{1,2})[/.]([0-9]{4})$")
_SHORT_YEAR = re.compile(r"^[0-9]{1,2}[/.]([0-9]{1,2}[/.])?[0-9]{2}$")
_YEAR = re.compile(r"^([0-9]{4})$")
# Month names and their usual short forms, in English: "March 2024", "mar 2024", "10 March 2024".
# Spanish too ("junio 2024", "junio de 2024", "10 de junio de 2024"): a patient may answer in either.
MONTH_NAMES = {name.lower(): number for number in range(1, 13)
               for name in (calendar.month_name[number], calendar.month_abbr[number])} | {"sept": 9} | {
    name: number for number, names in enumerate((
        ("enero", "ene"), ("febrero", "feb"), ("marzo", "mar"), ("abril", "abr"), ("mayo", "may"),
        ("junio", "jun"), ("julio", "jul"), ("agosto", "ago"), ("septiembre", "setiembre", "sep", "set"),
        ("octubre", "oct"), ("noviembre", "nov"), ("diciembre", "dic")), start=1) for name in names}
_NAMED_MONTH = re.compile(r"^([a-z]+)\.?,?\s+(?:de\s+|del\s+)?([0-9]{4})$")
_NAMED_DAY = re.compile(r"^([0-9]{1,2})\s+(?:de\s+)?([a-z]+)\.?,?\s+(?:de\s+|del\s+)?([0-9]{4})$")
_NAMED_DAY_US = re.compile(r"^([a-z]+)\.?\s+([0-9]{1,2}),?\s+([0-9]{4})$")


def date_forms(kind: str, date_order: DateOrder) -> str:
    """The forms a typed date may take, as shown in coordinator prompts (order made explicit)."""
    slashed = "MM/DD/YYYY" if date_order == "MDY" else "DD/MM/YYYY"
    if kind == "date":
        return f"YYYY-MM-DD, {slashed} or t"
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
        lines = [w.type_date.format(month_example=w.month_example, day_example="06/10/2024" if mdy else "10/06/2024",
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

    Reads ISO, slashed and month-name forms ("March 2024", "mar 2024", "10 March 2024", "March 10,
    2024"). Only the form is read here; whether the date exists (2025-02-30) is the contract's
    decision.
    """
    text = text.strip()
    lower = text.lower()
    if match := _ISO_DAY.match(text):
        year, month, day = match.groups()
    elif match := _SLASH_DAY.match(text):
        first, second, year = match.groups()
        month, day = (first, second) if date_order == "MDY" else (second, first)
    elif (match := _NAMED_DAY.match(lower)) and match.group(2) in MONTH_NAMES:
        day, name, year = match.groups()
        month = str(MONTH_NAMES[name])
    elif (match := _NAMED_DAY_US.match(lower)) and match.group(1) in MONTH_NAMES:
        name, day, year = match.groups()
        month = str(MONTH_NAMES[name])
    elif partial and (match := (_ISO_MONTH.match(text) or _SLASH_MONTH.match(text))):
        first, second = match.groups()
        year, month = (first, second) if len(first) == 4 else (second, first)
        return f"{year}-{int(month):02d}"
    elif partial and (match := _NAMED_MONTH.match(lower)) and match.group(1) in MONTH_NAMES:
        return f"{match.group(2)}-{MONTH_NAMES[match.group(1)]:02d}"
    elif _SHORT_YEAR.match(text):
        raise InputError(f"{text!r} has a two-digit year; type all four digits (e.g. 2024)", "two_digit_year")
    elif not partial and (_ISO_MONTH.match(text) or _SLASH_MONTH.match(text) or _NAMED_MONTH.match(lower)):
        raise InputError(f"{text!r} has no day; type {date_forms('date', date_order)}", "date")
    else:
        raise InputError(f"{text!r} is not a date; type {date_forms('partial_date' if partial else 'date', date_order)}",
                         "date")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def year_alone_month(item: Item, year: int, not_after: date | None) -> str:
    """A year typed alone, read as the one month of it that is the safer reading for the rules
    (``item.year_alone``): the fusion as late as possible (December, or the assessment's month in
    the assessment's year), an MRI as early as possible (January). The terminal, the web and FHIR
    import all read a year this way, and the terminal and web say so to the patient."""
    month = 1
    if item.year_alone == "last_month":  # as late as possible, but never after the assessment
        month = 12
        if not_after is not None and year == not_after.year:
            month = not_after.month
    return f"{year:04d}-{month:02d}"


def read_patient_date(item: Item, text: str, *, date_order: DateOrder = "MDY",
                      not_after: date | None = None) -> Answer:
    """A date as a patient may type it wherever the help text is shown (terminal, FHIR forms): ISO,
    slashed, month names in English or Spanish ("June 2024", "junio de 2024"), or a year alone
    where the question allows it (``Answer.year_alone``)."""
    partial = item.type == "partial_date"
    if partial and item.year_alone and (match := _YEAR.match(text.strip())):
        return Answer(year_alone_month(item, int(match.group(1)), not_after), year_alone=True)
    return Answer(read_typed_date(text, partial=partial, date_order=date_order))


def _read_date(item: Item, text: str, reading: _Reading) -> Answer:
    return read_patient_date(item, text, date_order=reading.date_order, not_after=reading.not_after)


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
    hidden: list[Item] = field(default_factory=list)  # answered questions no longer asked (answers kept)
    revealed: list[Item] = field(default_factory=list)  # questions now asked that were not before
    red_flag: bool = False  # a red-flag question just became "yes"


class Interview:
    """Where a person is in the questionnaire and what they answered so far.

    ``answers`` is always a valid answers-contract object (checked on every change). It keeps the
    answers of questions that skip logic now hides (MRI date after "no MRI"), so that undoing the
    change brings them back; ``final_answers()`` leaves them out, and only that is saved, assessed
    and recorded. ``position`` is an index into ``asked()``; ``position == len(asked())`` means all
    questions were passed: the review.
    """

    def __init__(self, questionnaire: Questionnaire, mode: Mode, *, today: date,
                 answers: dict[str, Any] | None = None):
        self.questionnaire = questionnaire
        self.mode: Mode = mode
        self.today = today
        self.answers: dict[str, Any] = self.validated(answers) if answers else {}
        # Every question this person may be asked, in order: its place here is its number at the review.
        self.items = [item for item in questionnaire.items if mode in item.audience]
        self.position = self.resume_position()

    # The ordered list of questions asked now: skip logic re-applied to the current answers.
    def asked(self) -> list[Item]:
        return self.questionnaire.asked(self.answers, self.mode)

    @property
    def current(self) -> Item | None:
        asked = self.asked()
        return asked[self.position] if self.position < len(asked) else None

    def hidden(self) -> list[Item]:
        """Questions answered earlier that skip logic no longer asks (their answers are kept)."""
        asked = {item.id for item in self.asked()}
        return [item for item in self.items if item.id in self.answers and item.id not in asked]

    def final_answers(self) -> dict[str, Any]:
        """The answers without those of hidden questions: what is saved, assessed and recorded."""
        hidden = {item.id for item in self.hidden()}
        return {key: value for key, value in self.answers.items() if key not in hidden}

    def progress(self) -> tuple[int, int]:
        """(question number, total). The total counts the questions asked now plus those that may
        still be asked (their deciding question is not answered yet), so it never grows as the
        person answers; it can shrink when an answer makes questions unnecessary."""
        return self.position + 1, progress_total(self.questionnaire, self.answers, self.mode)

    def resume_position(self) -> int:
        """Where a resumed intake continues: after the last question that has an answer. (Not at the
        first unanswered one: a question passed with Enter or "I don't know" may rightly stay empty,
        e.g. no patient reference, and would otherwise be asked again on every resume.)"""
        answered = [n for n, item in enumerate(self.asked()) if item.id in self.answers]
        return answered[-1] + 1 if answered else 0

    def default(self, item: Item) -> Any:
        """What Enter means when the question has no answer yet."""
        return self.today.isoformat() if item.type == "date" else None

    def assessment_date(self) -> date:
        """The date every interval is measured to: the answered one, else today."""
        answered = self.answers.get("assessment_date")
        return date.fromisoformat(answered) if isinstance(answered, str) else self.today

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
        """Record a (checked) answer and move to the next question. Answers that skip logic now
        hides are kept (``Outcome.hidden``) and come back if the change is undone."""
        canonical = self.check(item, value)
        before_asked = {i.id for i in self.asked()}
        before_hidden = {i.id for i in self.hidden()}
        was_yes = self.answers.get(item.id) == "yes"
        if canonical is None:
            self.answers.pop(item.id, None)
        else:
            self.answers[item.id] = canonical
        asked = self.asked()
        revealed = [i for i in asked if i.id not in before_asked]
        hidden = [i for i in self.hidden() if i.id not in before_hidden]
        self.position = next(n for n, i in enumerate(asked) if i.id == item.id) + 1 \
            if any(i.id == item.id for i in asked) else self.resume_position()
        return Outcome(item, canonical, hidden, revealed,
                       red_flag=item.safety and canonical == "yes" and not was_yes)

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
        """(number, question, answer or None) for every question asked, numbered as the progress
        counted them ("Question 26 of 26" is the review's 26): a change that hides or opens questions
        renumbers the ones after it, and the screen says which questions it hid or opened."""
        return [(number, item, self.answers.get(item.id)) for number, item in enumerate(self.asked(), start=1)]

    def red_flags_yes(self) -> list[Item]:
        return [item for item in self.asked() if item.safety and self.answers.get(item.id) == "yes"]

    def warnings(self, item: Item) -> list[tuple[str, str]]:
        """(kind, value) of what an accepted answer should make the person check, without refusing
        it: an assessment date in the future, an MRI dated before the fusion."""
        found = []
        value = self.answers.get(item.id)
        if item.type == "date" and isinstance(value, str) and value > self.today.isoformat():
            found.append(("date_in_future", value))
        fusion, mri = self.answers.get("fusion_date"), self.answers.get("mri_date")
        if item.id in ("fusion_date", "mri_date") and "mri_date" not in {i.id for i in self.hidden()} \
                and isinstance(fusion, str) and isinstance(mri, str) and UNKNOWN not in (fusion, mri) \
                and mri[:7] < fusion[:7]:  # whole months apart: before the fusion whatever the days
            found.append(("mri_before_fusion", mri))
        return found


PATIENT_ERROR_PATTERNS = (  # a contract problem -> the kind of sentence a patient reads
    ("is after the assessment date", "future"),
    ("is not a real calendar", "not_real_date"),
    ("check the year", "check_year"),
    ("is outside", "whole_number"),
    ("is not a lumbar segment", "level"),
)


def patient_error(message: str) -> str | None:
    """The kind of patient sentence for a problem the answers contract found, or None."""
    return next((kind for pattern, kind in PATIENT_ERROR_PATTERNS if pattern in message), None)


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


def progress_total(questionnaire: Questionnaire, answers: dict[str, Any], mode: Audience) -> int:
    """The M of "Question N of M", the same in the terminal and on the web: the questions asked now
    plus those that may still be asked (their deciding question has no answer yet), so M never grows
    as the person answers; it can shrink when an answer makes questions unnecessary."""
    asked = {item.id for item in questionnaire.asked(answers, mode)}
    return sum(1 for item in questionnaire.items if mode in item.audience and (
        item.id in asked or (item.ask_when is not None and item.ask_when.question not in answers)))


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
    "Answer", "Back", "Help", "InputError", "Interview", "Outcome", "back_word", "check_answer", "coordinator_hint",
    "date_forms", "hidden_answers", "interpret", "patient_error", "patient_hints", "problem_lines", "read_typed_date",
    "without_hidden",
]
