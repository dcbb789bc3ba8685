"""Derived facts: everything the rules need that takes arithmetic, computed in plain Python.

The engine only ever sees one flat object of strings (the vocabulary below), so no rule compares
dates, lists or mixed types inside durable_rules. Each fact declares the answer fields and settings it
is computed from: that is how a rule's declared ``reads`` is checked and how the trace shows inputs.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any, NamedTuple

from triage.core.answers import PAIN_LOCATIONS, PAIN_QUALITIES, RED_FLAGS, UNKNOWN, VA_QUESTIONS, Answers
from triage.core.dates import PartialDate, add_months, whole_months_between
from triage.core.segments import adjacent_levels
from triage.core.settings import Settings

UNANSWERED = "unanswered"
NOT_CHECKED = "not_checked"
YES_NO = ("yes", "no")


class FactSpec(NamedTuple):  # a named tuple: cheaper to create at start-up than a dataclass
    name: str
    values: tuple[str, ...]
    reads: tuple[str, ...]
    meaning: str
    settings: tuple[str, ...] = ()


# The clinic setting a question's meaning depends on: the patient answers against it ("over the
# access standard"), so the trace of a rule reading the answer names the setting too.
_ANSWER_SETTINGS = {
    "va_drive_time_over_standard": ("va_drive_time_standard_minutes",),
    "va_wait_over_standard": ("va_wait_standard_days",),
    "va_no_full_service_facility": ("va_no_full_service_facility_states",),
}


def _answer_facts() -> list[FactSpec]:
    yes_no_questions = (
        "surgical_report_available", "mri_available", "hardware_problem_known",
        "mechanical_symptoms", *RED_FLAGS, "veteran", *VA_QUESTIONS,
    )
    specs = [
        FactSpec(q, ("yes", "no", UNKNOWN, UNANSWERED), (q,), f"the answer to {q}",
                 settings=_ANSWER_SETTINGS.get(q, ()))
        for q in yes_no_questions
    ]
    specs.append(FactSpec("pain_location", (*PAIN_LOCATIONS, UNANSWERED), ("pain_location",),
                          "the answer to pain_location"))
    specs += [
        FactSpec(f"pain_quality_{quality}", YES_NO, ("pain_quality",), f"pain_quality includes {quality}")
        for quality in PAIN_QUALITIES
    ]
    return specs


FACTS: dict[str, FactSpec] = {
    spec.name: spec
    for spec in [
        *_answer_facts(),
        FactSpec("fusion_date_known", YES_NO, ("fusion_date",), "a fusion date (day or month) is given"),
        FactSpec("fused_levels_known", YES_NO, ("fused_levels",), "at least one fused level is given"),
        FactSpec("mri_date_known", YES_NO, ("mri_date",), "an MRI date (day or month) is given"),
        FactSpec("pain_quality_answered", YES_NO, ("pain_quality",), "at least one pain quality is given"),
        FactSpec(
            "mri_after_fusion", (*YES_NO, NOT_CHECKED), ("mri_date", "fusion_date", "assessment_date"),
            "yes: the MRI's earliest possible day is after the fusion's latest possible day; "
            "not_checked: either date is unknown",
        ),
        FactSpec(
            "mri_current", (*YES_NO, NOT_CHECKED), ("mri_date", "assessment_date"),
            "yes: the MRI's earliest possible day is within the MRI currency window before the "
            "assessment date (that boundary day counts); not_checked: the MRI date is unknown",
            settings=("mri_currency_months",),
        ),
        FactSpec(
            "within_healing_window", (*YES_NO, NOT_CHECKED), ("fusion_date", "assessment_date"),
            "yes: the assessment date is before the latest possible fusion day plus the healing "
            "window; not_checked: the fusion date is unknown",
            settings=("healing_window_months",),
        ),
        FactSpec(
            "tear_at_unfused_level", (*YES_NO, NOT_CHECKED), ("annular_tear_levels", "fused_levels"),
            "yes: an annular tear is reported at a level that was not fused; not_checked: fused or "
            "tear levels unknown",
        ),
    ]
}


class Derived(NamedTuple):
    """The engine fact plus the values a result reports but the engine never compares."""

    fact: dict[str, str]
    months_since_fusion: int | None
    adjacent_levels: list[str]
    unfused_tear_levels: list[str]
    text_values: TextValues  # placeholders for rule texts


class TextValues(dict):
    """The placeholders of rule texts. A value is put in words only when a text asks for it: most
    results name a few of the ~40 answers and derived values, and formatting all of them cost 8% of
    batch time. The clinic's settings are looked up in the settings' own (shared) values, not copied."""

    def __init__(self, answers: Answers | None, *args: Any, settings: dict[str, Any] | None = None,
                 derived: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answers = answers
        self._settings = settings or {}
        self._derived = derived or {}  # name -> the value before it is put in words

    def __missing__(self, name: str) -> str:
        if name in self._settings:
            return self._settings[name]
        if name in self._derived:
            value = self[name] = _display(self._derived[name])
            return value
        if self._answers is None:
            raise KeyError(name)
        if name == "open_red_flags":
            answers = self._answers
            value = self[name] = "; ".join(
                f"{q} {_display(getattr(answers, q))}" for q in RED_FLAGS if getattr(answers, q) in (None, UNKNOWN)
            )
            return value
        if name not in _QUESTIONS:
            raise KeyError(name)
        value = self[name] = _display(getattr(self._answers, name))
        return value

    def with_values(self, **values: Any) -> "TextValues":
        """A copy with more placeholders, answering the rest lazily as this one does."""
        copy = TextValues(self._answers, self, settings=self._settings, derived=self._derived)
        copy.update(values)
        return copy


def _known(value: Any) -> bool:
    return value is not None and value != UNKNOWN and value != ()


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# The facts that are answers as given (unanswered -> "unanswered"), read straight from the answers.
_ANSWERED_AS_GIVEN = tuple(spec.name for spec in FACTS.values() if UNANSWERED in spec.values)
_QUALITY_FACTS = tuple((quality, f"pain_quality_{quality}") for quality in PAIN_QUALITIES)


def derive(answers: Answers, settings: Settings) -> Derived:
    assessed: date = answers.assessment_date
    given = answers.__dict__  # the validated fields (frozen), read once instead of one getattr each
    fact: dict[str, str] = {}
    for name in _ANSWERED_AS_GIVEN:
        value = given[name]
        fact[name] = UNANSWERED if value is None else value
    qualities = answers.pain_quality if isinstance(answers.pain_quality, tuple) else ()
    for quality, name in _QUALITY_FACTS:
        fact[name] = "yes" if quality in qualities else "no"
    fact["pain_quality_answered"] = _yes_no(bool(qualities))

    fusion = answers.fusion_date if isinstance(answers.fusion_date, PartialDate) else None
    mri = answers.mri_date if isinstance(answers.mri_date, PartialDate) else None
    fused = answers.fused_levels if _known(answers.fused_levels) else None
    tears = answers.annular_tear_levels if answers.annular_tear_levels not in (None, UNKNOWN) else None
    fact["fusion_date_known"] = _yes_no(fusion is not None)
    fact["fused_levels_known"] = _yes_no(fused is not None)
    fact["mri_date_known"] = _yes_no(mri is not None)

    # Conservative partial dates: the fusion as late as it can be, the MRI as early as it can be.
    fusion_latest, healing_ends, months = (
        _fusion_dates(fusion, assessed, settings.healing_window_months) if fusion else (None, None, None)
    )
    currency_starts = _currency_starts(assessed, settings.mri_currency_months)
    fact["within_healing_window"] = _yes_no(assessed < healing_ends) if healing_ends else NOT_CHECKED
    fact["mri_current"] = _yes_no(mri.earliest >= currency_starts) if mri else NOT_CHECKED
    fact["mri_after_fusion"] = (
        _yes_no(mri.earliest > fusion_latest) if mri and fusion_latest else NOT_CHECKED
    )

    unfused_tears = [level for level in tears if level not in fused] if fused and tears is not None else []
    fact["tear_at_unfused_level"] = (
        _yes_no(bool(unfused_tears)) if fused and tears is not None else NOT_CHECKED
    )
    adjacent = adjacent_levels(fused) if fused else []

    text_values = TextValues(answers, settings=settings.text_data, derived={
        "months_since_fusion": months,
        "healing_window_ends": healing_ends,
        "mri_currency_starts": currency_starts,
        "unfused_tear_levels": unfused_tears,
        "adjacent_levels": adjacent,
    })
    return Derived(fact, months, adjacent, unfused_tears, text_values)


# Pure functions of a few values that repeat across a backlog (fusion dates, one assessment date).
@functools.lru_cache(maxsize=4096)
def _fusion_dates(fusion: PartialDate, assessed: date, healing_months: int) -> tuple[date, date, int]:
    """The latest day the fusion can have been, the end of the healing window after it, and the
    whole months from it to the assessment."""
    latest = fusion.latest(not_after=assessed)
    return latest, add_months(latest, healing_months), whole_months_between(latest, assessed)


@functools.lru_cache(maxsize=64)
def _currency_starts(assessed: date, months: int) -> date:
    """The earliest MRI date that counts as current (a backlog shares one assessment date)."""
    return add_months(assessed, -months)


_QUESTIONS = frozenset(Answers.model_fields)


def _display(value: Any) -> str:
    if value is None:
        return "not answered"
    if isinstance(value, (tuple, list)):
        return ", ".join(value) if value else "none"
    return str(value)
