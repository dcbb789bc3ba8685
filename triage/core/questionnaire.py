"""The questionnaire definition (``questionnaires/*.toml``): models, loader and skip logic."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from triage.core.answers import CHOICES, KINDS, QUESTION_IDS, RED_FLAGS, UNKNOWN
from triage.core.definitions import read_toml, shipped, validate
from triage.core.settings import Settings, load_settings

Audience = Literal["coordinator", "patient"]
Kind = Literal["text", "date", "partial_date", "segments", "yes_no_unknown", "choice", "multi_choice", "integer"]


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Clinic settings an item's label, text or help may name in braces; filled in at load, so every
# channel shows the clinic's own access standards and places.
SETTING_PLACEHOLDERS = frozenset({
    "va_drive_time_standard_minutes", "va_wait_standard_days", "va_no_full_service_facility_states",
    "va_no_full_service_facility_places",
})


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


class Option(_Definition):
    value: str
    label: str  # coordinator's short word
    text: str  # patient wording


class AskWhen(_Definition):
    question: str
    eq: str


class Item(_Definition):
    id: str
    type: Kind
    section: str
    label: str
    text: str
    help: str
    safety: bool = False
    audience: tuple[Audience, ...] = ("coordinator", "patient")
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    allow_none: bool = False  # segments only: "none" (no level, []) is a meaningful answer
    # partial dates only: a year typed alone is read as this month of that year, whichever end is the
    # safer reading for the rules (the fusion as late as possible, an MRI as early as possible).
    year_alone: Literal["last_month", "first_month"] | None = None
    ask_when: AskWhen | None = None
    # The published wording a question follows (the cauda equina questions: the NHS warning card), for
    # reviewers; patients never see it.
    source: str = ""

    @model_validator(mode="after")
    def _matches_contract(self) -> "Item":
        if self.id not in KINDS:
            raise ValueError(f"{self.id!r} is not a question id of the answers contract")
        if self.type != KINDS[self.id]:
            raise ValueError(f"{self.id} is of type {KINDS[self.id]}, not {self.type}")
        values = tuple(option.value for option in self.options)
        if values != CHOICES.get(self.id, ()):
            raise ValueError(f"{self.id} options must be exactly {list(CHOICES.get(self.id, ()))}")
        if self.safety != (self.id in RED_FLAGS):
            raise ValueError(f"{self.id}: safety must be true exactly for the red-flag questions")
        if self.allow_none and self.type != "segments":
            raise ValueError(f"{self.id}: allow_none applies only to segments questions")
        if self.year_alone and self.type != "partial_date":
            raise ValueError(f"{self.id}: year_alone applies only to partial_date questions")
        for text in (self.label, self.text, self.help):
            unknown = _placeholders(text) - SETTING_PLACEHOLDERS
            if unknown:
                raise ValueError(f"{self.id}: unknown placeholder {{{sorted(unknown)[0]}}}")
        return self

    def with_settings(self, values: dict[str, object]) -> "Item":
        return self.model_copy(update={name: getattr(self, name).format_map(values)
                                       for name in ("label", "text", "help")})

    def allowed_values(self) -> str:
        """The vocabulary in one line, for `triage questions` and prompts."""
        return {
            "text": "free text",
            "date": "YYYY-MM-DD",
            "partial_date": "YYYY-MM-DD, YYYY-MM or unknown",
            "segments": "list of T12-L1, L1-L2, L2-L3, L3-L4, L4-L5, L5-S1 (shorthand L4-5 accepted; a range L4-S1 = L4-L5, L5-S1), [] or unknown",
            "yes_no_unknown": "yes, no or unknown (true/false accepted)",
            "integer": f"whole number {self.min} to {self.max}",
        }.get(self.type) or ", ".join(option.value for option in self.options)


class Section(_Definition):
    id: str
    title: str
    patient_title: str


class QuestionnaireInfo(_Definition):
    id: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")  # when this version was published
    publisher: str
    description: str
    title: str
    patient_intro: str
    patient_outro: str
    unknown_text: str
    # FHIR identities (triage/interop/fhir.py): the Questionnaire's canonical URL and the code system of its
    # answer codes. Identifiers, not wording; change them only with a new questionnaire version.
    fhir_url: str = Field(pattern=r"^(https?|urn):\S+$")
    fhir_patient_url: str = Field(pattern=r"^(https?|urn):\S+$")
    fhir_question_system: str = Field(pattern=r"^(https?|urn):\S+$")
    fhir_answer_system: str = Field(pattern=r"^(https?|urn):\S+$")


# Placeholders each patient wording may use; anything else is a typo caught at load.
_WORDING_PLACEHOLDERS = {
    "progress": {"number", "total"},
    "type_date": {"month_example", "day_example", "day_order"},
    "type_number": {"min", "max"},
    "unknown_key": {"unknown_text"},
    "keep": {"answer"},
    "not_understood": {"reason"},
    "understood": {"answer"},
    "dropped": {"questions"},
    "year_alone": {"answer"},
    "date_in_future": {"answer"},
    "mri_before_fusion": {"answer"},
    "come_back_code": {"code"},
}
# What a patient reads when a typed answer cannot be used, by kind (interview.InputError.kind).
PATIENT_ERRORS = {
    "needed": set(), "not_a_choice": {"count"}, "unknown_combined": {"unknown_text"},
    "whole_number": {"min", "max"}, "level": set(), "level_needed": set(), "date": set(),
    "two_digit_year": set(), "future": set(), "not_real_date": set(), "check_year": set(),
    "other": set(),  # in a translation, when no kind fits (the reason itself is English)
}


class PatientWording(_Definition):
    """Everything a patient reads around the questions in patient mode (intake prompts and summary)."""

    progress: str
    keys: str
    month_example: str  # how a month may be typed, in type_date
    choose_one: str
    choose_many: str
    type_date: str
    date_order_mdy: str
    date_order_dmy: str
    type_levels: str
    type_levels_or_none: str
    type_number: str
    unknown_key: str
    keep: str
    prompt: str
    yes: str
    no: str
    none: str
    date_known: str
    date_entry: str
    levels_known: str
    levels_entry: str
    not_answered: str
    not_understood: str
    understood: str
    dropped: str
    red_flag_title: str
    red_flag_choice: str
    red_flag_choice_invalid: str
    review_title: str
    review_intro: str
    review_prompt: str
    review_not_a_number: str
    review_more: str
    first_question: str  # `<` typed at the first question
    summary_title: str
    bring_heading: str
    bring_nothing: str
    # The closing instruction's heading names its urgency tier ("Get help now"), never just "Important".
    tier_heading_emergency: str
    tier_heading_same_day: str
    tier_heading_soon: str
    stopped: str
    # Saving and coming back, in words: a patient never reads a file path or a command (coordinators
    # get the exact command in coordinator mode, and staff find the intake with `triage list`).
    saved_as_you_go: str
    saved_done: str
    come_back_code: str  # {code}: the intake's number, which the front desk resumes
    come_back_desk: str  # an answers file: the front desk knows where it is
    interrupted: str
    input_ended: str
    save_failed: str
    changed_elsewhere: str
    saved_not_shown: str  # recorded, but the end could not be shown (exit 8); come_back_code follows
    store_unavailable: str  # the store cannot be opened as the intake starts (exit 5)
    went_wrong: str  # any other failure once the questions have started (the answers so far are saved)
    year_alone: str
    date_in_future: str
    mri_before_fusion: str
    errors: dict[str, str]  # one sentence per kind of PATIENT_ERRORS

    @model_validator(mode="after")
    def _placeholders(self) -> "PatientWording":
        if set(self.errors) != set(PATIENT_ERRORS):
            raise ValueError(f"errors: needs exactly the kinds {sorted(PATIENT_ERRORS)}")
        for kind, text in self.errors.items():
            for _, field, _, _ in string.Formatter().parse(text):
                if field is not None and field not in PATIENT_ERRORS[kind]:
                    raise ValueError(f"errors.{kind}: unknown placeholder {{{field}}}")
        for name, text in self:
            if name == "errors":
                continue
            allowed = _WORDING_PLACEHOLDERS.get(name, set())
            for _, field, _, _ in string.Formatter().parse(text):
                if field is not None and field not in allowed:
                    raise ValueError(f"{name}: unknown placeholder {{{field}}}")
        return self

    def tier_heading(self, tier: str) -> str:
        return {"emergency": self.tier_heading_emergency, "same_day": self.tier_heading_same_day,
                "soon": self.tier_heading_soon}[tier]


class Questionnaire(_Definition):
    questionnaire: QuestionnaireInfo
    patient_wording: PatientWording
    sections: tuple[Section, ...]
    items: tuple[Item, ...]

    @model_validator(mode="after")
    def _complete(self) -> "Questionnaire":
        ids = [item.id for item in self.items]
        if ids != list(QUESTION_IDS):
            absent = [q for q in QUESTION_IDS if q not in ids]
            raise ValueError(
                f"items must be the answers contract's questions, once each, in its order"
                + (f" (missing {absent[0]})" if absent else "")
            )
        sections = {section.id for section in self.sections}
        for position, item in enumerate(self.items):
            if item.section not in sections:
                raise ValueError(f"item {item.id}: unknown section {item.section!r}")
            if item.ask_when and item.ask_when.question not in ids[:position]:
                raise ValueError(f"item {item.id}: ask_when must refer to an earlier question")
        return self

    # The language of the patient wording (triage/core/languages.py translates it); labels stay English.
    _language: str = PrivateAttr("en")

    @property
    def language(self) -> str:
        return self._language

    def with_settings(self, settings: Settings) -> "Questionnaire":
        """The same questionnaire with the clinic's settings written into its items' wording."""
        return self.with_values(settings.text_values())

    def with_values(self, values: dict[str, object]) -> "Questionnaire":
        """The same questionnaire with these setting values (``Settings.text_values``) in its wording."""
        return self.model_copy(update={"items": tuple(item.with_settings(values) for item in self.items)})

    def item(self, question_id: str) -> Item:
        return next(item for item in self.items if item.id == question_id)

    def asked(self, answers: dict[str, Any], audience: Audience) -> list[Item]:
        """The items this audience is asked, given the answers so far (skip logic applied)."""
        return [
            item
            for item in self.items
            if audience in item.audience
            and (item.ask_when is None or answers.get(item.ask_when.question) == item.ask_when.eq)
        ]

    def answer_text(self, question_id: str, value: Any, *, audience: Audience = "coordinator") -> str:
        """One answer as a person reads it: the only function that turns an answer into text, in
        every channel. Coordinators and clinicians get the compact form (option labels, levels
        joined with commas, dates as given, ``unknown``, ``not answered``); patients the
        questionnaire's patient wording (option texts, ``June 2024``, ``I don't know``).
        ``value`` None = not answered."""
        item = self.item(question_id)
        wording = self.patient_wording
        patient = audience == "patient"
        if value is None:
            return wording.not_answered if patient else NOT_ANSWERED
        if value == UNKNOWN:
            return self.questionnaire.unknown_text if patient else UNKNOWN
        if item.type == "yes_no_unknown" and patient:
            return {"yes": wording.yes, "no": wording.no}.get(value, str(value))
        if item.type in ("choice", "multi_choice"):
            words = {option.value: option.text if patient else option.label for option in item.options}
            chosen = value if isinstance(value, list) else [value]
            return ", ".join(words.get(v, str(v)) for v in chosen)
        if item.type == "segments":
            if isinstance(value, list):
                return ", ".join(value) if value else (wording.none if patient else "none")
            return str(value)
        if item.type in ("date", "partial_date") and patient:
            return spoken_date(str(value), self.language)
        return str(value)


NOT_ANSWERED = "not answered"


# Month names a patient reads and may type, by language (English from the calendar module would
# follow the machine's locale; these never do).
MONTH_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"),
}


def spoken_date(iso: str, language: str = "en") -> str:
    """``2024-06`` -> ``June 2024`` / ``junio de 2024``; ``2024-06-10`` -> ``June 10, 2024`` (US usage) /
    ``10 de junio de 2024`` (the month in words: no order to misread)."""
    parts = [int(part) for part in iso.split("-")]
    if len(parts) == 1:  # a year alone (de-identified)
        return str(parts[0])
    month = MONTH_NAMES[language][parts[1] - 1]
    if language == "es":
        return f"{parts[2]} de {month} de {parts[0]}" if len(parts) == 3 else f"{month} de {parts[0]}"
    return f"{month} {parts[2]}, {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


DEFAULT_QUESTIONNAIRE = "fbss-intake.toml"


def load_definition(path: Path | None = None) -> Questionnaire:
    """The questionnaire as defined, before clinic settings are written into its wording."""
    path = path or shipped("questionnaires") / DEFAULT_QUESTIONNAIRE
    return validate(Questionnaire, read_toml(path), path)


def load_questionnaire(path: Path | None = None, settings: Settings | None = None) -> Questionnaire:
    """The questionnaire with the clinic's settings in its wording (the shipped defaults without), in
    English; ``triage.core.languages.load_language`` gives a patient's language."""
    return load_definition(path).with_settings(settings or load_settings())
