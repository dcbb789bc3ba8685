"""Clinic settings: the clinical intervals, the VA access standards, and the clinic's words in messages."""

# No `from __future__ import annotations`: pydantic would evaluate every field's annotation text
# when the module is imported (a millisecond of every command's start-up); Python does it for free.

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from triage.core.definitions import read_toml, shipped, validate

DEFAULT_SETTINGS = "default.toml"  # in the shipped settings/ folder, beside rules/ and questionnaires/

# US states, the District of Columbia and the inhabited territories, by postal code: the places a
# clinic may list as having no full-service VA medical facility. Names are what a patient reads.
US_STATES_AND_TERRITORIES: dict[str, str] = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "the District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
    "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
    "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
    "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
    "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
    "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
    "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "AS": "American Samoa", "GU": "Guam", "MP": "the Northern Mariana Islands", "PR": "Puerto Rico",
    "VI": "the U.S. Virgin Islands",
}

_PHONE_NUMBER = re.compile(r"\+?[0-9]([0-9 -]{0,18}[0-9])?")


class Settings(BaseModel):
    # strict: `healing_window_months = true` must not be read as 1, nor "6" as 6 (a wrong type in a
    # clinical setting is refused, naming the key, never coerced).
    # defer_build: settings kept validated between runs (triage.core.definition_cache) need no validator.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    healing_window_months: int = Field(6, ge=1, le=36)
    mri_currency_months: int = Field(12, ge=1, le=60)
    # VA community-care access standards (MISSION Act) for specialty care such as spine care: the
    # patient is asked whether the usual drive, or VA's wait for an appointment, is over these.
    va_drive_time_standard_minutes: int = Field(60, ge=1, le=600)
    va_wait_standard_days: int = Field(28, ge=1, le=365)
    va_no_full_service_facility_states: tuple[str, ...] = ("AK", "HI", "NH", "GU", "AS", "MP", "VI")
    clinic_name: str = Field("the spine clinic", min_length=1)
    clinic_phone: str = Field("the number on your appointment letter", min_length=1)
    # The number patients are told to call, and dial from the web's emergency card (a tel: link):
    # digits, with spaces or dashes between them and a leading + allowed ("911", "112", "+1 555-0100").
    emergency_number: str = "911"
    # How `triage intake` reads a typed date such as 6/10/2024 (month first, or day first). It changes
    # no result, so it is left out of the settings a result lists (exclude=True).
    date_order: Literal["MDY", "DMY"] = Field("MDY", exclude=True)
    # The web pages (`triage serve`) end a session idle this long; a patient's answers stay saved. They
    # change no result either.
    patient_idle_minutes: int = Field(15, ge=2, le=240, exclude=True)
    staff_idle_minutes: int = Field(30, ge=2, le=720, exclude=True)
    # However active, a web session ends this long after it started (sign in again, or the patient's
    # code again). Changes no result.
    session_lifetime_hours: int = Field(12, ge=1, le=168, exclude=True)

    # Staff sign-in's second factor (time-based one-time codes, RFC 6238): "required" asks every
    # account to enrol at its next sign-in; "off" asks only accounts that have one. No result changes.
    staff_second_factor: Literal["required", "off"] = Field("required", exclude=True)

    # A record request (`triage records request`) not received nor marked not obtainable after this many
    # days is overdue: listed first, and flagged on the worklist. Changes no result.
    record_request_overdue_days: int = Field(7, ge=1, le=365, exclude=True)
    # Record files, a patient's uploads and staff's copies (triage.records.uploads): the largest file, how
    # many files each record (the operative report, the MRI report) may hold, the largest image (a
    # phone photo is 12 to 50 megapixels; more is refused before it is decoded) and the longest PDF.
    # They change no result.
    upload_max_file_megabytes: int = Field(10, ge=1, le=50, exclude=True)
    upload_max_files_per_record: int = Field(10, ge=1, le=50, exclude=True)
    upload_max_image_megapixels: int = Field(50, ge=1, le=150, exclude=True)
    upload_max_pdf_pages: int = Field(50, ge=1, le=500, exclude=True)

    @field_validator("emergency_number")
    @classmethod
    def _dialable(cls, value: str) -> str:
        if not _PHONE_NUMBER.fullmatch(value):
            raise ValueError("must be a number a phone can dial, such as \"911\" (digits, with spaces or dashes"
                             " between them and a leading + allowed)")
        return value

    @field_validator("va_no_full_service_facility_states", mode="before")
    @classmethod
    def _postal_codes(cls, value: object) -> object:
        if not isinstance(value, (list, tuple)) or not all(isinstance(code, str) for code in value):
            raise ValueError("must be a list of state or territory postal codes, such as [\"AK\", \"HI\"]")
        unknown = [code for code in value if code not in US_STATES_AND_TERRITORIES]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a US state or territory postal code (use capitals, e.g. \"AK\")")
        if len(set(value)) != len(value):
            raise ValueError("lists a state or territory twice")
        return tuple(value)

    @property
    def emergency_tel(self) -> str:
        """``emergency_number`` as a tel: link dials it (digits and a leading +)."""
        return "".join(c for c in self.emergency_number if c.isdigit() or c == "+")

    # Settings are frozen, so what every result repeats is computed once per settings object.
    @cached_property
    def json_data(self) -> dict[str, object]:
        """The settings as JSON data, as every result names them (do not change it: it is shared)."""
        return self.model_dump(mode="json")

    @cached_property
    def text_data(self) -> dict[str, object]:
        """``text_values()``, kept (do not change it: it is shared)."""
        return self.text_values()

    @cached_property
    def fingerprint(self) -> str:
        """Identifies the content (every field), so results prepared under other settings never mix."""
        import hashlib

        return hashlib.sha256(repr([(name, getattr(self, name)) for name in type(self).model_fields]).encode()).hexdigest()[:16]

    def model_copy(self, *, update=None, deep: bool = False) -> "Settings":
        # The cached forms describe the original: a changed copy computes its own.
        copied = super().model_copy(update=update, deep=deep)
        for name in ("json_data", "text_data", "fingerprint"):
            copied.__dict__.pop(name, None)
        return copied

    def text_values(self) -> dict[str, object]:
        """The settings as the placeholders of texts read them: lists joined, and the places without a
        full-service VA facility in words ("Alaska, Hawaii or Guam") for the question a patient reads."""
        names = [US_STATES_AND_TERRITORIES[code] for code in self.va_no_full_service_facility_states]
        places = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else "".join(names) or "none"
        return {
            **self.model_dump(),
            "va_no_full_service_facility_states": ", ".join(self.va_no_full_service_facility_states) or "none",
            "va_no_full_service_facility_places": places,
        }


def load_settings(path: Path | None = None) -> Settings:
    """Read a settings file (validated like every definition: a failure names the file and the
    setting); without one, the shipped defaults (PRODUCT.md's values). Kept validated between runs
    (``triage.core.definition_cache``)."""
    from triage.core import definition_cache

    path = path or shipped("settings") / DEFAULT_SETTINGS
    return definition_cache.load(Settings, path, lambda: validate(Settings, read_toml(path), path))
